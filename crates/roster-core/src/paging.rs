//! Pagination in one place: page-number, offset/count with `total`, and
//! cursor strategies, each a lazy item stream holding one page at a time,
//! with a loop guard, dedupe by id and re-reads of listings that shifted.
//!
//! * **Page number** (Mattermost): 0-based `page`, `per_page`. Servers cap
//!   `per_page` silently (Mattermost at 200), so a client that asks for more
//!   and stops on "fewer than asked" stops after one page. The strategy asks
//!   for at most the declared cap; without a declared cap, a short first
//!   page is followed by one probe to detect an undeclared cap.
//! * **Offset/count** (Rocket.Chat): advances by rows received and stops on
//!   `total`, never on a short page (the server clamps `count`).
//! * **Cursor**: follows the next cursor; the same cursor twice is an error.
//!
//! A repeated id on a later page means the listing moved under the reader
//! (an insertion pushed rows down), so an item may have been skipped: the
//! listing is re-read (bounded passes) emitting only unseen ids, and if it
//! never settles the stream ends with [`Error::Unstable`].

use std::collections::HashSet;
use std::collections::hash_map::DefaultHasher;
use std::future::Future;
use std::hash::{Hash, Hasher};

use futures::stream::{self, BoxStream, StreamExt};

use crate::error::{Error, Result};

/// Items with a stable id, for dedupe.
pub trait Keyed {
    /// The item's id within its listing.
    fn key(&self) -> &str;
}

/// One page as a connector decoded it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Page<T> {
    /// The rows, in server order.
    pub items: Vec<T>,
    /// The listing's total, when the server says (offset strategy).
    pub total: Option<u64>,
    /// The next cursor (cursor strategy); `None` ends the listing.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// A page of `items`.
    pub fn new(items: Vec<T>) -> Self {
        Self {
            items,
            total: None,
            next_cursor: None,
        }
    }
    /// With the listing's total.
    pub fn with_total(mut self, total: u64) -> Self {
        self.total = Some(total);
        self
    }
    /// With the next cursor.
    pub fn with_next_cursor(mut self, cursor: Option<String>) -> Self {
        self.next_cursor = cursor;
        self
    }
}

/// Which strategy a listing uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paging {
    /// 0-based page numbers.
    PageNumber {
        /// Rows to ask for.
        per_page: u32,
        /// The server's documented silent cap, if known.
        server_cap: Option<u32>,
    },
    /// Offset and count, stopping on `total`. `count == 0` asks for
    /// everything in one response (Rocket.Chat `API_Allow_Infinite_Count`).
    Offset {
        /// Rows to ask for.
        count: u32,
    },
    /// Opaque cursors.
    Cursor,
}

/// What to ask the server for next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageRequest {
    /// Page `page` of `per_page` rows.
    Number {
        /// 0-based page.
        page: u32,
        /// Rows per page.
        per_page: u32,
    },
    /// `count` rows from `offset`.
    Offset {
        /// Rows to skip.
        offset: u64,
        /// Rows to return (0 = all).
        count: u32,
    },
    /// The page after `cursor` (`None` = first page).
    Cursor(Option<String>),
}

/// Bounds of one listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PagingLimits {
    /// Hard cap on pages per pass (the loop guard of last resort).
    pub max_pages: u32,
    /// Passes over a listing that keeps shifting before giving up.
    pub max_passes: u32,
    /// Read a listing that took more than one page a second time, to find
    /// rows skipped because an earlier row was *removed* during the read
    /// (the list closed up; no id repeats, so nothing else reveals it). For
    /// listings without a `total`, where removals are common (members).
    pub confirm_multi_page: bool,
}

impl PagingLimits {
    /// The defaults, with [`confirm_multi_page`](Self::confirm_multi_page) on.
    pub fn confirming() -> Self {
        Self {
            confirm_multi_page: true,
            ..Self::default()
        }
    }
}

impl Default for PagingLimits {
    fn default() -> Self {
        Self {
            max_pages: 100_000,
            max_passes: 3,
            confirm_multi_page: false,
        }
    }
}

struct State<F> {
    fetch: F,
    paging: Paging,
    limits: PagingLimits,
    endpoint: String,
    // position
    page: u32,
    offset: u64,
    cursor: Option<String>,
    seen_cursors: HashSet<String>,
    pages: u32,
    pass_pages: u32,
    pass_total: Option<u64>,
    last_signature: Option<u64>,
    // page-number cap detection
    cap: Option<u32>,
    probe_short_len: Option<u32>,
    // shifting
    pass: u32,
    emitted: HashSet<String>,
    seen_this_pass: HashSet<String>,
    shifted: bool,
    done: bool,
    pending_error: Option<Error>,
}

enum Step<T> {
    Items(Vec<T>),
    Fail(Error),
}

/// Streams every item of a listing, one page in memory at a time.
///
/// `fetch` turns a [`PageRequest`] into a [`Page`]; it is called again for
/// each page and, when the listing shifted, from the start for another pass.
/// `endpoint` names the listing in errors.
pub fn paginate<'a, T, F, Fut>(
    endpoint: impl Into<String>,
    paging: Paging,
    limits: PagingLimits,
    fetch: F,
) -> BoxStream<'a, Result<T>>
where
    T: Keyed + Send + 'a,
    F: FnMut(PageRequest) -> Fut + Send + 'a,
    Fut: Future<Output = Result<Page<T>>> + Send + 'a,
{
    let cap = match paging {
        Paging::PageNumber { server_cap, .. } => server_cap,
        _ => None,
    };
    let state = State {
        fetch,
        paging,
        limits,
        endpoint: endpoint.into(),
        page: 0,
        offset: 0,
        cursor: None,
        seen_cursors: HashSet::new(),
        pages: 0,
        pass_pages: 0,
        pass_total: None,
        last_signature: None,
        cap,
        probe_short_len: None,
        pass: 1,
        emitted: HashSet::new(),
        seen_this_pass: HashSet::new(),
        shifted: false,
        done: false,
        pending_error: None,
    };
    stream::unfold(state, |mut st| async move {
        let step = st.next_page().await?;
        Some((step, st))
    })
    .flat_map(|step| {
        let items: Vec<Result<T>> = match step {
            Step::Items(items) => items.into_iter().map(Ok).collect(),
            Step::Fail(e) => vec![Err(e)],
        };
        stream::iter(items)
    })
    .boxed()
}

impl<F> State<F> {
    fn request(&self) -> PageRequest {
        match self.paging {
            Paging::PageNumber { per_page, .. } => PageRequest::Number {
                page: self.page,
                per_page: self.cap.map_or(per_page, |c| per_page.min(c)).max(1),
            },
            Paging::Offset { count } => PageRequest::Offset {
                offset: self.offset,
                count,
            },
            Paging::Cursor => PageRequest::Cursor(self.cursor.clone()),
        }
    }

    fn fail<T>(&mut self, message: String) -> Step<T> {
        self.done = true;
        Step::Fail(Error::Paging {
            endpoint: self.endpoint.clone(),
            message,
        })
    }

    async fn next_page<T, Fut>(&mut self) -> Option<Step<T>>
    where
        T: Keyed,
        F: FnMut(PageRequest) -> Fut,
        Fut: Future<Output = Result<Page<T>>>,
    {
        if let Some(e) = self.pending_error.take() {
            self.done = true;
            return Some(Step::Fail(e));
        }
        if self.done {
            return None;
        }
        loop {
            if self.pages >= self.limits.max_pages {
                let max = self.limits.max_pages;
                return Some(self.fail(format!(
                    "more than {max} pages; stopping to avoid an endless loop"
                )));
            }
            let request = self.request();
            let page = match (self.fetch)(request.clone()).await {
                Ok(p) => p,
                Err(e) => {
                    self.done = true;
                    return Some(Step::Fail(e));
                }
            };
            self.pages += 1;
            self.pass_pages += 1;
            let raw_len = page.items.len();

            // Loop guard: the same non-empty page twice in a row.
            if raw_len > 0 {
                let mut h = DefaultHasher::new();
                for item in &page.items {
                    item.key().hash(&mut h);
                }
                let sig = h.finish();
                if self.last_signature == Some(sig) {
                    return Some(self.fail(format!(
                        "the server returned the same page twice ({request:?})"
                    )));
                }
                self.last_signature = Some(sig);
            }

            // A row already seen on an earlier page of this pass means the
            // listing shifted; a row twice inside one page is only a quirk.
            let mut page_keys: HashSet<String> = HashSet::with_capacity(raw_len);
            for item in &page.items {
                let key = item.key();
                if !page_keys.contains(key) {
                    if self.seen_this_pass.contains(key) {
                        self.shifted = true;
                    }
                    page_keys.insert(key.to_owned());
                }
            }
            self.seen_this_pass.extend(page_keys);
            let fresh: Vec<T> = page
                .items
                .into_iter()
                .filter(|item| self.emitted.insert(item.key().to_owned()))
                .collect();

            let end_of_pass = match self.advance(raw_len, page.total, page.next_cursor) {
                Ok(end) => end,
                Err(msg) => return Some(self.fail(msg)),
            };
            if end_of_pass {
                if self.limits.confirm_multi_page && self.pass == 1 && self.pass_pages > 1 {
                    // A removal during a multi-page read skips a row
                    // silently: one confirming pass finds it.
                    self.shifted = true;
                }
                if !self.shifted {
                    self.done = true;
                    return Some(Step::Items(fresh));
                }
                if self.pass >= self.limits.max_passes {
                    self.done = true;
                    self.pending_error = Some(Error::Unstable {
                        endpoint: self.endpoint.clone(),
                        passes: self.pass,
                    });
                    return Some(Step::Items(fresh));
                }
                tracing::debug!(endpoint = %self.endpoint, pass = self.pass, "Listing shifted while read; reading it again.");
                self.restart();
            }
            if !fresh.is_empty() {
                return Some(Step::Items(fresh));
            }
        }
    }

    fn restart(&mut self) {
        self.pass += 1;
        self.pass_pages = 0;
        self.pass_total = None;
        self.page = 0;
        self.offset = 0;
        self.cursor = None;
        self.seen_cursors.clear();
        self.last_signature = None;
        self.seen_this_pass.clear();
        self.shifted = false;
    }

    /// Moves to the next page; `Ok(true)` at the end of the pass.
    fn advance(
        &mut self,
        len: usize,
        total: Option<u64>,
        next_cursor: Option<String>,
    ) -> std::result::Result<bool, String> {
        match self.paging {
            Paging::PageNumber { per_page, .. } => {
                let len32 = u32::try_from(len).unwrap_or(u32::MAX);
                if len == 0 {
                    return Ok(true);
                }
                if let Some(short) = self.probe_short_len.take() {
                    // The page after a short page had rows: the server caps
                    // per_page at `short`.
                    tracing::debug!(endpoint = %self.endpoint, cap = short, "Detected a silent per_page cap.");
                    self.cap = Some(short);
                }
                let asked = self.cap.map_or(per_page, |c| per_page.min(c)).max(1);
                self.page += 1;
                if len32 >= asked {
                    return Ok(false);
                }
                if self.cap.is_some() {
                    return Ok(true);
                }
                // Short page and no known cap: probe the next page once.
                self.probe_short_len = Some(len32);
                Ok(false)
            }
            Paging::Offset { .. } => {
                self.offset += len as u64;
                if let Some(t) = total {
                    // A total that changes between pages means rows were
                    // added or removed under the reader.
                    if self.pass_total.is_some_and(|first| first != t) {
                        self.shifted = true;
                    }
                    self.pass_total = Some(t);
                }
                match total {
                    Some(total) => {
                        if len == 0 {
                            if self.offset < total {
                                // The listing shrank under us.
                                self.shifted = true;
                            }
                            return Ok(true);
                        }
                        Ok(self.offset >= total)
                    }
                    None => Ok(len == 0),
                }
            }
            Paging::Cursor => match next_cursor {
                None => Ok(true),
                Some(c) => {
                    if !self.seen_cursors.insert(c.clone()) {
                        return Err(format!("the server returned cursor `{c}` twice"));
                    }
                    self.cursor = Some(c);
                    Ok(false)
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Debug, Clone, PartialEq)]
    struct Row(String);
    impl Keyed for Row {
        fn key(&self) -> &str {
            &self.0
        }
    }

    fn rows(range: std::ops::Range<usize>) -> Vec<Row> {
        range.map(|i| Row(format!("{i:05}"))).collect()
    }

    /// A page-number server over `data` with a silent cap.
    fn page_server(
        data: Arc<Mutex<Vec<Row>>>,
        cap: u32,
        calls: Arc<Mutex<Vec<PageRequest>>>,
    ) -> impl FnMut(PageRequest) -> futures::future::Ready<Result<Page<Row>>> + Send {
        move |req| {
            calls.lock().unwrap().push(req.clone());
            let PageRequest::Number { page, per_page } = req else {
                panic!("wrong request kind")
            };
            let per = per_page.min(cap) as usize;
            let data = data.lock().unwrap();
            let start = (page as usize * per).min(data.len());
            let end = (start + per).min(data.len());
            futures::future::ready(Ok(Page::new(data[start..end].to_vec())))
        }
    }

    async fn collect(s: BoxStream<'_, Result<Row>>) -> (Vec<Row>, Option<Error>) {
        let mut out = Vec::new();
        let mut err = None;
        let items: Vec<Result<Row>> = s.collect().await;
        for i in items {
            match i {
                Ok(r) => out.push(r),
                Err(e) => err = Some(e),
            }
        }
        (out, err)
    }

    #[tokio::test]
    async fn page_number_with_declared_cap_reads_everything() {
        let data = Arc::new(Mutex::new(rows(0..470)));
        let calls = Arc::new(Mutex::new(Vec::new()));
        let s = paginate(
            "GET /users",
            Paging::PageNumber {
                per_page: 500,
                server_cap: Some(200),
            },
            PagingLimits::default(),
            page_server(data, 200, calls.clone()),
        );
        let (got, err) = collect(s).await;
        assert!(err.is_none());
        assert_eq!(got, rows(0..470));
        assert_eq!(calls.lock().unwrap().len(), 3, "200 + 200 + 70");
    }

    #[tokio::test]
    async fn page_number_detects_an_undeclared_cap() {
        let data = Arc::new(Mutex::new(rows(0..450)));
        let calls = Arc::new(Mutex::new(Vec::new()));
        let s = paginate(
            "GET /users",
            Paging::PageNumber {
                per_page: 500,
                server_cap: None,
            },
            PagingLimits::default(),
            page_server(data, 200, calls.clone()),
        );
        let (got, err) = collect(s).await;
        assert!(err.is_none());
        assert_eq!(got, rows(0..450), "a naive reader stops after 200");
    }

    #[tokio::test]
    async fn page_number_short_first_page_costs_one_probe_without_cap() {
        let data = Arc::new(Mutex::new(rows(0..5)));
        let calls = Arc::new(Mutex::new(Vec::new()));
        let s = paginate(
            "GET /x",
            Paging::PageNumber {
                per_page: 200,
                server_cap: None,
            },
            PagingLimits::default(),
            page_server(data, 200, calls.clone()),
        );
        assert_eq!(collect(s).await.0.len(), 5);
        assert_eq!(calls.lock().unwrap().len(), 2);
    }

    #[tokio::test]
    async fn shifted_listing_is_reread_and_misses_nothing() {
        // After page 0 is read, a row sorting first is inserted: page 1
        // repeats the last row of page 0, and the reader would otherwise
        // never see the row pushed... so a second pass is made.
        let data = Arc::new(Mutex::new(rows(10..30)));
        let calls = Arc::new(Mutex::new(Vec::new()));
        let inner = page_server(data.clone(), 10, calls.clone());
        let mut inner = inner;
        let mut inserted = false;
        let fetch = move |req: PageRequest| {
            if let PageRequest::Number { page: 1, .. } = req
                && !inserted
            {
                inserted = true;
                data.lock().unwrap().insert(0, Row("00001".into()));
            }
            inner(req)
        };
        let s = paginate(
            "GET /users",
            Paging::PageNumber {
                per_page: 10,
                server_cap: Some(10),
            },
            PagingLimits::default(),
            fetch,
        );
        let (got, err) = collect(s).await;
        assert!(err.is_none(), "{err:?}");
        let mut ids: Vec<String> = got.iter().map(|r| r.0.clone()).collect();
        let n = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), n, "no duplicates");
        assert_eq!(n, 21, "the inserted row is found by the re-read");
    }

    #[tokio::test]
    async fn confirming_finds_a_row_skipped_by_a_removal() {
        let data = Arc::new(Mutex::new(rows(0..25)));
        let calls = Arc::new(Mutex::new(Vec::new()));
        let mut inner = page_server(data.clone(), 10, calls.clone());
        let mut removed = false;
        let fetch = move |req: PageRequest| {
            if let PageRequest::Number { page: 1, .. } = req
                && !removed
            {
                removed = true;
                data.lock().unwrap().remove(0);
            }
            inner(req)
        };
        let paging = Paging::PageNumber {
            per_page: 10,
            server_cap: Some(10),
        };
        let (got, err) = collect(paginate(
            "GET /m",
            paging,
            PagingLimits::confirming(),
            fetch,
        ))
        .await;
        assert!(err.is_none());
        // Row 10 moved onto page 0 after page 0 was read: only the
        // confirming pass sees it. Row 0 was read before it left.
        assert!(got.contains(&Row("00010".into())), "{got:?}");
        assert_eq!(got.len(), 25);
    }

    #[tokio::test]
    async fn confirming_costs_nothing_for_single_page_listings() {
        let data = Arc::new(Mutex::new(rows(0..5)));
        let calls = Arc::new(Mutex::new(Vec::new()));
        let paging = Paging::PageNumber {
            per_page: 10,
            server_cap: Some(10),
        };
        let s = paginate(
            "GET /m",
            paging,
            PagingLimits::confirming(),
            page_server(data, 10, calls.clone()),
        );
        assert_eq!(collect(s).await.0.len(), 5);
        assert_eq!(calls.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn listing_that_never_settles_ends_with_unstable() {
        let mut counter = 0usize;
        let fetch = move |req: PageRequest| {
            let PageRequest::Number { page, .. } = req else {
                unreachable!()
            };
            counter += 1;
            // Each page repeats the previous page's last row.
            let start = page as usize * 9;
            let _ = counter;
            let items = if page < 3 {
                rows(start..start + 10)
            } else {
                vec![]
            };
            futures::future::ready(Ok(Page::new(items)))
        };
        let s = paginate(
            "GET /users",
            Paging::PageNumber {
                per_page: 10,
                server_cap: Some(10),
            },
            PagingLimits::default(),
            fetch,
        );
        let (got, err) = collect(s).await;
        assert!(
            matches!(err, Some(Error::Unstable { passes: 3, .. })),
            "{err:?}"
        );
        assert_eq!(got.len(), 28);
    }

    #[tokio::test]
    async fn offset_stops_on_total_not_short_page() {
        let all = rows(0..250);
        let calls = Arc::new(Mutex::new(0));
        let c = calls.clone();
        let fetch = move |req: PageRequest| {
            *c.lock().unwrap() += 1;
            let PageRequest::Offset { offset, count } = req else {
                unreachable!()
            };
            // Server clamps count to 100.
            let n = if count == 0 {
                all.len()
            } else {
                count.min(100) as usize
            };
            let start = (offset as usize).min(all.len());
            let end = (start + n).min(all.len());
            futures::future::ready(Ok(Page::new(all[start..end].to_vec()).with_total(250)))
        };
        let s = paginate(
            "GET /users.list",
            Paging::Offset { count: 500 },
            PagingLimits::default(),
            fetch,
        );
        let (got, err) = collect(s).await;
        assert!(err.is_none());
        assert_eq!(got.len(), 250);
        assert_eq!(*calls.lock().unwrap(), 3);
    }

    #[tokio::test]
    async fn offset_listing_whose_total_changes_is_read_again() {
        let data = Arc::new(Mutex::new(rows(0..25)));
        let d = data.clone();
        let mut removed = false;
        let fetch = move |req: PageRequest| {
            let PageRequest::Offset { offset, count } = req else {
                unreachable!()
            };
            if offset == 10 && !removed {
                removed = true;
                d.lock().unwrap().remove(0);
            }
            let all = d.lock().unwrap();
            let start = (offset as usize).min(all.len());
            let end = (start + count as usize).min(all.len());
            futures::future::ready(Ok(
                Page::new(all[start..end].to_vec()).with_total(all.len() as u64)
            ))
        };
        let s = paginate(
            "GET /teams.members",
            Paging::Offset { count: 10 },
            PagingLimits::default(),
            fetch,
        );
        let (got, err) = collect(s).await;
        assert!(err.is_none());
        assert!(
            got.contains(&Row("00010".into())),
            "the row skipped by the removal is found"
        );
        assert_eq!(got.len(), 25);
        drop(data);
    }

    #[tokio::test]
    async fn same_page_twice_is_a_loop() {
        let fetch = |_req: PageRequest| futures::future::ready(Ok(Page::new(rows(0..10))));
        let s = paginate(
            "GET /teams",
            Paging::PageNumber {
                per_page: 10,
                server_cap: Some(10),
            },
            PagingLimits::default(),
            fetch,
        );
        let (got, err) = collect(s).await;
        assert_eq!(got.len(), 10);
        assert!(matches!(err, Some(Error::Paging { .. })), "{err:?}");
    }

    #[tokio::test]
    async fn cursor_repeats_are_refused_and_page_cap_holds() {
        let fetch = |req: PageRequest| {
            let PageRequest::Cursor(c) = req else {
                unreachable!()
            };
            let n: usize = c.as_deref().map_or(0, |s| s.parse().unwrap());
            // cursor goes 0 -> 1 -> 2 -> 1 (loop)
            let next = if n == 2 { 1 } else { n + 1 };
            futures::future::ready(Ok(
                Page::new(rows(n * 3..n * 3 + 3)).with_next_cursor(Some(next.to_string()))
            ))
        };
        let (_, err) = collect(paginate(
            "GET /c",
            Paging::Cursor,
            PagingLimits::default(),
            fetch,
        ))
        .await;
        assert!(matches!(err, Some(Error::Paging { .. })), "{err:?}");

        let mut n = 0usize;
        let endless = move |_req: PageRequest| {
            n += 1;
            futures::future::ready(Ok(
                Page::new(rows(n * 2..n * 2 + 2)).with_next_cursor(Some(n.to_string()))
            ))
        };
        let limits = PagingLimits {
            max_pages: 50,
            ..PagingLimits::default()
        };
        let (got, err) = collect(paginate("GET /c", Paging::Cursor, limits, endless)).await;
        assert_eq!(got.len(), 100);
        assert!(err.unwrap().to_string().contains("more than 50 pages"));
    }
}
