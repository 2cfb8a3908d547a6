//! Small parsers and formatters shared by the commands: durations
//! (`30s`, `2m`, `1h30m`), rate limits (`10/60s`, `off`), secrets, numbers.

use std::time::Duration;

use roster_core::RateLimit;
use roster_core::plan::{Advice, RateLimitChoice, Setting};
use secrecy::SecretString;

/// Parses `30s`, `2m`, `1h30m`, `500ms` or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let s = text.trim();
    if s.is_empty() {
        return Err("empty duration (expected e.g. `30s`, `2m`, `1h`)".into());
    }
    if let Ok(secs) = s.parse::<f64>() {
        return secs_to_duration(secs, text);
    }
    let mut total = Duration::ZERO;
    let mut rest = s;
    while !rest.is_empty() {
        let split = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| {
                format!("`{text}`: missing unit after the number (use ms, s, m or h)")
            })?;
        let (num, tail) = rest.split_at(split);
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, next) = tail.split_at(unit_len);
        let value: f64 = if num.is_empty() {
            // `s` alone means one second (as in `10/s`).
            1.0
        } else {
            num.parse()
                .map_err(|_| format!("`{text}`: `{num}` is not a number"))?
        };
        let secs = match unit.trim() {
            "ms" => value / 1000.0,
            "s" | "sec" | "secs" => value,
            "m" | "min" | "mins" => value * 60.0,
            "h" | "hr" | "hrs" => value * 3600.0,
            "d" => value * 86_400.0,
            other => {
                return Err(format!(
                    "`{text}`: unknown unit `{other}` (use ms, s, m, h or d)"
                ));
            }
        };
        total += secs_to_duration(secs, text)?;
        rest = next;
    }
    Ok(total)
}

/// Parses `--timeout`: a duration longer than zero (a zero timeout would
/// fail every request).
pub fn parse_timeout(text: &str) -> Result<Duration, String> {
    let d = parse_duration(text)?;
    if d.is_zero() {
        return Err(format!("`{text}`: the timeout must be longer than zero"));
    }
    Ok(d)
}

fn secs_to_duration(secs: f64, text: &str) -> Result<Duration, String> {
    if !secs.is_finite() || secs < 0.0 {
        return Err(format!("`{text}` is not a valid duration"));
    }
    Duration::try_from_secs_f64(secs).map_err(|_| format!("`{text}` is too long"))
}

/// A `--rate-limit` value: `CALLS/DURATION` or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitArg(pub Option<RateLimit>);

impl RateLimitArg {
    /// The rate limit, `None` when `off`.
    pub fn get(self) -> Option<RateLimit> {
        self.0
    }
}

/// Parses `10/60s`, `30/1m`, `10/s` or `off`.
pub fn parse_rate_limit(text: &str) -> Result<RateLimitArg, String> {
    let s = text.trim();
    if matches!(s, "off" | "none" | "0") {
        return Ok(RateLimitArg(None));
    }
    let (calls, period) = s
        .split_once('/')
        .ok_or_else(|| format!("`{text}`: expected CALLS/DURATION such as `10/60s`, or `off`"))?;
    let calls: u32 = calls
        .trim()
        .parse()
        .map_err(|_| format!("`{text}`: `{calls}` is not a number of calls"))?;
    if calls == 0 {
        return Err(format!("`{text}`: calls must be at least 1 (or use `off`)"));
    }
    let period = parse_duration(period)?;
    if period.is_zero() {
        return Err(format!("`{text}`: the duration must be longer than zero"));
    }
    Ok(RateLimitArg(Some(RateLimit::per_endpoint(calls, period))))
}

/// Parses Rocket.Chat's `--rate-limit`: `auto`, `off` or `CALLS/DURATION`
/// (a hard floor).
pub fn parse_rate_limit_mode(text: &str) -> Result<roster_core::RateLimitMode, String> {
    if text.trim() == "auto" {
        return Ok(roster_rocketchat::default_rate_limit_mode());
    }
    parse_rate_limit(text)
        .map(|q| roster_core::RateLimitMode::from_quota(q.get()))
        .map_err(|e| format!("{e} (or `auto`, the default)"))
}

/// Wraps a credential from the command line or the environment at once.
pub fn parse_secret(text: &str) -> Result<SecretString, String> {
    if text.trim().is_empty() {
        return Err("the value is empty".into());
    }
    Ok(SecretString::from(text.trim()))
}

/// `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `2 h 10 min`, `43 s`, `850 ms`: the same wording as `roster validate`.
pub use roster_core::validate::format_duration as human_duration;

/// A setting as the flag that sets it (`--rate-limit auto`, `--rate-limit
/// 10/60s`, `--infinite-count`).
pub fn setting_flag(setting: Setting) -> String {
    match setting {
        Setting::RateLimit(RateLimitChoice::Auto) => "--rate-limit auto".to_owned(),
        Setting::RateLimit(RateLimitChoice::Off) => "--rate-limit off".to_owned(),
        Setting::RateLimit(RateLimitChoice::Fixed { calls, window_ms }) => {
            if window_ms % 1000 == 0 {
                format!("--rate-limit {calls}/{}s", window_ms / 1000)
            } else {
                format!("--rate-limit {calls}/{window_ms}ms")
            }
        }
        Setting::FixedRateOf { rate, window_ms } => {
            if window_ms % 1000 == 0 {
                format!("--rate-limit <{rate}>/{}s", window_ms / 1000)
            } else {
                format!("--rate-limit <{rate}>/{window_ms}ms")
            }
        }
        Setting::InfiniteCount => "--infinite-count".to_owned(),
        other => other.to_string(),
    }
}

/// A piece of advice in the CLI's terms: settings named by their flags.
pub fn advice_text(advice: &Advice) -> String {
    advice.render_with(setting_flag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advice_names_settings_by_their_flags() {
        let raise = Advice::RaiseServerLimit {
            how: "a workspace admin can raise the limit in Rate Limiter".into(),
            calls: 30,
            window_ms: 1000,
            fixed_quota: true,
            about_ms: 65_000,
        };
        let text = advice_text(&raise);
        assert!(
            text.contains("(and --rate-limit 30/1s to match, or --rate-limit auto)"),
            "{text}"
        );
        assert!(text.ends_with("(about 1 min 5 s)"), "{text}");
        // The library's own rendering names no flag.
        assert!(!raise.to_string().contains("--"), "{raise}");
        assert!(
            raise.to_string().contains("RateLimitMode::Fixed"),
            "{raise}"
        );

        let switch = Advice::RateLimit {
            why: "the client quota paces".into(),
            choices: vec![RateLimitChoice::Auto, RateLimitChoice::Off],
            about_ms: 2_000,
        };
        assert_eq!(
            advice_text(&switch),
            "the client quota paces; --rate-limit auto or --rate-limit off would be faster (about 2.0 s)"
        );
        let count = Advice::InfiniteCount {
            why: "reads listings in one request".into(),
            about_ms: 500,
        };
        assert!(advice_text(&count).starts_with("--infinite-count (count=0) reads"));
        assert!(
            count
                .to_string()
                .starts_with("RocketChatConfig::infinite_count")
        );
        let rate = Advice::FixedRateOf {
            why: "the server reports its burst".into(),
            rate: "PerSec".into(),
            window_ms: 1000,
        };
        assert_eq!(
            advice_text(&rate),
            "the server reports its burst; use --rate-limit <PerSec>/1s to plan and pace with the real rate"
        );
        assert!(!rate.to_string().contains("--"), "{rate}");
        assert_eq!(
            setting_flag(Setting::RateLimit(RateLimitChoice::Fixed {
                calls: 10,
                window_ms: 1500
            })),
            "--rate-limit 10/1500ms"
        );
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("45"), Ok(Duration::from_secs(45)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("10x").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("-3").is_err());
        assert_eq!(parse_timeout("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_timeout("0s").is_err());
        assert!(parse_timeout("soon").is_err());
    }

    #[test]
    fn rate_limits() {
        let rl = parse_rate_limit("10/60s").unwrap().get().unwrap();
        assert_eq!((rl.calls(), rl.period()), (10, Duration::from_secs(60)));
        let rl = parse_rate_limit("30/1m").unwrap().get().unwrap();
        assert_eq!((rl.calls(), rl.period()), (30, Duration::from_secs(60)));
        let rl = parse_rate_limit("10/s").unwrap().get().unwrap();
        assert_eq!(rl.period(), Duration::from_secs(1));
        assert_eq!(parse_rate_limit("off").unwrap().get(), None);
        assert!(parse_rate_limit("10").is_err());
        assert!(parse_rate_limit("0/60s").is_err());
        assert!(parse_rate_limit("ten/60s").is_err());
    }

    #[test]
    fn formatting() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(human_duration(Duration::from_secs(7800)), "2 h 10 min");
        assert_eq!(human_duration(Duration::from_secs(43)), "43 s");
    }
}
