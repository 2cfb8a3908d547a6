//! Writing the fields of one struct inside another's serialised map, a
//! chosen part at a time (what `#[serde(flatten)]` does, but splittable:
//! the summary line puts `warnings` between the request counters).

use serde::ser::{self, Impossible, Serialize, SerializeMap, SerializeStruct, Serializer};

/// Writes the fields of `value` (a struct) that `keep` accepts as entries
/// of `out`, in the struct's order. Fields the struct skips stay skipped.
pub(crate) fn serialize_fields<M, T>(
    value: &T,
    out: &mut M,
    keep: &dyn Fn(&str) -> bool,
) -> Result<(), M::Error>
where
    M: SerializeMap,
    T: Serialize + ?Sized,
{
    value.serialize(Fields { out, keep })
}

struct Fields<'a, M> {
    out: &'a mut M,
    keep: &'a dyn Fn(&str) -> bool,
}

fn not_a_struct<E: ser::Error>() -> E {
    E::custom("only a struct's fields can be written inline")
}

macro_rules! refuse {
    ($($method:ident($($ty:ty),*)),* $(,)?) => {
        $(fn $method(self, $(_: $ty),*) -> Result<(), M::Error> {
            Err(not_a_struct())
        })*
    };
}

impl<M: SerializeMap> Serializer for Fields<'_, M> {
    type Ok = ();
    type Error = M::Error;
    type SerializeSeq = Impossible<(), M::Error>;
    type SerializeTuple = Impossible<(), M::Error>;
    type SerializeTupleStruct = Impossible<(), M::Error>;
    type SerializeTupleVariant = Impossible<(), M::Error>;
    type SerializeMap = Impossible<(), M::Error>;
    type SerializeStruct = Self;
    type SerializeStructVariant = Impossible<(), M::Error>;

    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self, M::Error> {
        Ok(self)
    }

    refuse! {
        serialize_bool(bool), serialize_i8(i8), serialize_i16(i16),
        serialize_i32(i32), serialize_i64(i64), serialize_u8(u8),
        serialize_u16(u16), serialize_u32(u32), serialize_u64(u64),
        serialize_f32(f32), serialize_f64(f64), serialize_char(char),
        serialize_str(&str), serialize_bytes(&[u8]), serialize_none(),
        serialize_unit(), serialize_unit_struct(&'static str),
        serialize_unit_variant(&'static str, u32, &'static str),
    }

    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<(), M::Error> {
        Err(not_a_struct())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: &T,
    ) -> Result<(), M::Error> {
        Err(not_a_struct())
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), M::Error> {
        Err(not_a_struct())
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, M::Error> {
        Err(not_a_struct())
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, M::Error> {
        Err(not_a_struct())
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, M::Error> {
        Err(not_a_struct())
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, M::Error> {
        Err(not_a_struct())
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, M::Error> {
        Err(not_a_struct())
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, M::Error> {
        Err(not_a_struct())
    }
}

impl<M: SerializeMap> SerializeStruct for Fields<'_, M> {
    type Ok = ();
    type Error = M::Error;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), M::Error> {
        if (self.keep)(key) {
            self.out.serialize_entry(key, value)?;
        }
        Ok(())
    }

    fn end(self) -> Result<(), M::Error> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Serialize)]
    struct Inner {
        a: u8,
        #[serde(skip_serializing_if = "Option::is_none")]
        b: Option<u8>,
        c: &'static str,
    }

    struct Outer(Inner);

    impl Serialize for Outer {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut map = s.serialize_map(None)?;
            serialize_fields(&self.0, &mut map, &|k| k == "a")?;
            map.serialize_entry("between", &true)?;
            serialize_fields(&self.0, &mut map, &|k| k != "a")?;
            map.end()
        }
    }

    #[test]
    fn fields_are_written_in_parts_and_skips_kept() {
        let out = |b| serde_json::to_string(&Outer(Inner { a: 1, b, c: "x" })).unwrap();
        assert_eq!(out(Some(2)), r#"{"a":1,"between":true,"b":2,"c":"x"}"#);
        assert_eq!(out(None), r#"{"a":1,"between":true,"c":"x"}"#);
        let mut buf = Vec::new();
        let mut ser = serde_json::Serializer::new(&mut buf);
        let mut map = ser.serialize_map(None).unwrap();
        let err = serialize_fields(&7u8, &mut map, &|_| true).unwrap_err();
        assert!(err.to_string().contains("struct"), "{err}");
    }
}
