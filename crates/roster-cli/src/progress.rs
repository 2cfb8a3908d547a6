//! Sync progress: a [`Tracker`] that counts every engine event (always on;
//! the final report uses its counts) and, when stderr is a terminal, draws
//! indicatif bars from those counts: one per resource type with counts and
//! rate, a status line with requests, rate-limit waits ("waiting 43 s for
//! rate limit on GET /api/v1/teams.members") and an ETA from the validation
//! plan.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use roster_core::plan::fixed_window_lower_bound;
use roster_core::{Plan, Progress, ProgressEvent, ResourceType};

use crate::util::{human_duration, thousands};

/// Waits at least this long are announced on stderr when no bars are drawn
/// (a log, a cron job), and six times as long under the bars, so a long
/// pause never looks like a hang.
pub const ANNOUNCE_WAITS_FROM: Duration = Duration::from_secs(5);

/// Counts of one resource type.
#[derive(Debug, Clone, Copy, Default)]
pub struct TypeCounts {
    /// Resources written.
    pub resources: u64,
    /// Grants written.
    pub grants: u64,
    /// Resources whose grants were all read.
    pub grants_done: u64,
    /// The listing finished.
    pub listed: bool,
    /// When the last resource of this type was written.
    pub last_at: Option<Instant>,
}

#[derive(Debug, Default)]
struct State {
    types: BTreeMap<ResourceType, TypeCounts>,
    requests: u64,
    by_bucket: HashMap<String, u64>,
    waiting: HashMap<String, Instant>,
    /// When the longest wait announced so far ends.
    announced_until: Option<Instant>,
    warnings: u64,
    finished: bool,
}

/// Receives engine events; optionally draws them.
pub struct Tracker {
    state: Mutex<State>,
    plan: Option<Plan>,
    started: Instant,
    display: Option<Display>,
}

impl std::fmt::Debug for Tracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracker").finish_non_exhaustive()
    }
}

struct Display {
    multi: MultiProgress,
    title: String,
    stop: Arc<AtomicBool>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Tracker {
    /// A tracker; draws bars titled `title` on stderr when `draw`.
    pub fn new(title: &str, plan: Option<Plan>, draw: bool) -> Arc<Self> {
        let display = draw.then(|| Display {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(8)),
            title: title.to_owned(),
            stop: Arc::new(AtomicBool::new(false)),
            thread: Mutex::new(None),
        });
        let tracker = Arc::new(Self {
            state: Mutex::new(State::default()),
            plan,
            started: Instant::now(),
            display,
        });
        if let Some(d) = &tracker.display {
            let weak = Arc::downgrade(&tracker);
            let stop = d.stop.clone();
            let handle = std::thread::Builder::new()
                .name("roster-progress".into())
                .spawn(move || render_loop(&weak, &stop))
                .ok();
            *d.thread.lock().unwrap_or_else(|e| e.into_inner()) = handle;
        }
        tracker
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts per resource type so far.
    pub fn counts(&self) -> BTreeMap<ResourceType, TypeCounts> {
        self.state().types.clone()
    }

    /// Stops drawing, leaving the final bars on screen.
    pub fn finish(&self) {
        let Some(d) = &self.display else { return };
        d.stop.store(true, Ordering::Relaxed);
        let handle = d.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(h) = handle {
            let _ = h.join();
        }
    }

    /// The line announcing a wait of `wait` before `endpoint`, or `None`
    /// when it is short (under [`ANNOUNCE_WAITS_FROM`]) or ends within a few
    /// seconds of a wait already announced (concurrent calls waiting for
    /// the same reset make one line, not eight).
    fn wait_notice(
        &self,
        endpoint: &str,
        wait: Duration,
        why: &str,
        now: Instant,
    ) -> Option<String> {
        if wait < ANNOUNCE_WAITS_FROM {
            return None;
        }
        let until = now + wait;
        let mut st = self.state();
        if st
            .announced_until
            .is_some_and(|t| until <= t + ANNOUNCE_WAITS_FROM)
        {
            return None;
        }
        st.announced_until = Some(until);
        Some(format!(
            "roster: waiting {} before {}: {}",
            human_duration(wait),
            crate::escape::term(endpoint),
            crate::escape::term(&crate::exit::one_line(why))
        ))
    }

    fn eta(&self, st: &State, now: Instant) -> Option<Duration> {
        let plan = self.plan.as_ref()?;
        let elapsed = now.duration_since(self.started);
        let mut limited = Duration::ZERO;
        let (mut free_left, mut free_done) = (0u64, 0u64);
        let mut left_total = 0;
        for b in &plan.buckets {
            let done = st.by_bucket.get(&b.bucket).copied().unwrap_or(0);
            let left = b.requests.saturating_sub(done);
            left_total += left;
            match (b.limit, b.window_ms) {
                (Some(l), Some(w)) => {
                    let mut t = fixed_window_lower_bound(left, l, Duration::from_millis(w));
                    if left > 0
                        && let Some(until) = st.waiting.get(&b.bucket)
                    {
                        t += until.saturating_duration_since(now);
                    }
                    limited = limited.max(t);
                }
                _ => {
                    free_left += left;
                    free_done += done;
                }
            }
        }
        if left_total == 0 {
            return None;
        }
        let free = if free_done > 0 {
            elapsed.mul_f64(free_left as f64 / free_done as f64)
        } else {
            Duration::ZERO
        };
        Some(limited.max(free))
    }
}

impl Drop for Tracker {
    fn drop(&mut self) {
        if let Some(d) = &self.display {
            d.stop.store(true, Ordering::Relaxed);
        }
    }
}

impl Progress for Tracker {
    fn event(&self, event: ProgressEvent<'_>) {
        if let ProgressEvent::Waiting {
            endpoint,
            wait,
            why,
        } = event
        {
            // With bars, the status line already counts the wait down; only
            // long ones get a line of their own there.
            if self.display.is_some() && wait < ANNOUNCE_WAITS_FROM * 6 {
                return;
            }
            if let Some(line) = self.wait_notice(endpoint, wait, why, Instant::now()) {
                match &self.display {
                    Some(d) => {
                        let _ = d.multi.println(line);
                    }
                    None => eprintln!("{line}"),
                }
            }
            return;
        }
        let mut st = self.state();
        match event {
            ProgressEvent::Resource(t) => {
                let c = st.types.entry(t).or_default();
                c.resources += 1;
                c.last_at = Some(Instant::now());
            }
            ProgressEvent::Grants(t, n) => st.types.entry(t).or_default().grants += n,
            ProgressEvent::GrantsDone(t) => st.types.entry(t).or_default().grants_done += 1,
            ProgressEvent::ListingDone(t) => st.types.entry(t).or_default().listed = true,
            ProgressEvent::Request(bucket) => {
                st.requests += 1;
                *st.by_bucket.entry(bucket.to_owned()).or_default() += 1;
                st.waiting.remove(bucket);
            }
            ProgressEvent::RateLimitWait(bucket, wait) => {
                let until = Instant::now() + wait;
                let slot = st.waiting.entry(bucket.to_owned()).or_insert(until);
                *slot = (*slot).max(until);
            }
            ProgressEvent::Warning(message) => {
                st.warnings += 1;
                drop(st);
                // Without bars, the final report lists the warnings.
                if let Some(d) = &self.display {
                    let _ = d
                        .multi
                        .println(format!("warning: {}", crate::escape::term(message)));
                }
            }
            ProgressEvent::Finished(_) => st.finished = true,
            _ => {}
        }
    }
}

fn plural(t: ResourceType) -> &'static str {
    match t {
        ResourceType::User => "users",
        ResourceType::Team => "teams",
        ResourceType::Role => "roles",
        _ => "resources",
    }
}

fn render_loop(tracker: &std::sync::Weak<Tracker>, stop: &AtomicBool) {
    let bar_style =
        ProgressStyle::with_template("  {prefix:<7} [{bar:28.cyan/blue}] {pos:>7}/{len:<7} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
    let spin_style = ProgressStyle::with_template("  {prefix:<7} {spinner:.cyan} {pos:>7} {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner());
    let done_style = ProgressStyle::with_template("  {prefix:<7} ✔ {pos:>7} {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner());
    let status_style = ProgressStyle::with_template("  {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner());

    let mut bars: BTreeMap<ResourceType, ProgressBar> = BTreeMap::new();
    let mut status: Option<ProgressBar> = None;
    let mut title_printed = false;
    loop {
        let stopping = stop.load(Ordering::Relaxed);
        let Some(t) = tracker.upgrade() else { return };
        let Some(d) = &t.display else { return };
        if !title_printed {
            let _ = d
                .multi
                .println(format!("{}:", crate::escape::term(&d.title)));
            title_printed = true;
        }
        let now = Instant::now();
        let elapsed = now.duration_since(t.started).as_secs_f64().max(0.001);
        let st = t.state();
        let totals: HashMap<&str, u64> = t
            .plan
            .as_ref()
            .map(|p| p.totals.iter().map(|(k, v)| (k.as_str(), *v)).collect())
            .unwrap_or_default();
        for (ty, c) in &st.types {
            let bar = bars.entry(*ty).or_insert_with(|| {
                let total = totals.get(plural(*ty)).copied();
                let pb = match total {
                    Some(n) if n > 0 => ProgressBar::new(n).with_style(bar_style.clone()),
                    _ => ProgressBar::no_length().with_style(spin_style.clone()),
                };
                let pb = d.multi.insert_before_last_or_add(pb, status.as_ref());
                pb.set_prefix(plural(*ty));
                pb
            });
            if let Some(len) = bar.length()
                && c.resources > len
            {
                bar.set_length(c.resources);
            }
            bar.set_position(c.resources);
            let mut msg: Vec<String> = Vec::new();
            if let Some(at) = c.last_at {
                let secs = at.duration_since(t.started).as_secs_f64();
                if secs >= 0.5 {
                    msg.push(format!("{:.0}/s", c.resources as f64 / secs));
                }
            }
            if c.grants > 0 {
                msg.push(format!("{} grants", thousands(c.grants)));
            }
            if c.grants_done > 0 && c.grants_done < c.resources {
                msg.push(format!(
                    "grants read for {}/{}",
                    thousands(c.grants_done),
                    thousands(c.resources)
                ));
            }
            if c.listed && (c.grants_done >= c.resources || c.grants_done == 0) {
                if bar.length().is_some() {
                    bar.set_length(c.resources);
                }
                bar.set_style(done_style.clone());
            }
            bar.set_message(msg.join(" · "));
            bar.tick();
        }
        let status_bar = status.get_or_insert_with(|| {
            let pb = d
                .multi
                .add(ProgressBar::no_length().with_style(status_style.clone()));
            pb.enable_steady_tick(Duration::from_millis(200));
            pb
        });
        let mut parts = vec![if elapsed >= 1.0 {
            format!(
                "{} requests ({:.1}/s) · {}",
                thousands(st.requests),
                st.requests as f64 / elapsed,
                human_duration(now.duration_since(t.started))
            )
        } else {
            format!("{} requests", thousands(st.requests))
        }];
        let longest_wait = st
            .waiting
            .iter()
            .filter_map(|(b, until)| {
                let left = until.saturating_duration_since(now);
                (left >= Duration::from_millis(500)).then_some((b, left))
            })
            .max_by_key(|(_, left)| *left);
        if let Some((bucket, left)) = longest_wait {
            parts.push(format!(
                "waiting {} s for rate limit on {bucket}",
                left.as_secs().max(1)
            ));
        }
        if !st.finished
            && let Some(eta) = t.eta(&st, now)
        {
            parts.push(format!("about {} left", human_duration(eta)));
        }
        if st.warnings > 0 {
            parts.push(format!("{} warnings", st.warnings));
        }
        status_bar.set_message(parts.join(" · "));
        drop(st);
        if stopping {
            for bar in bars.values() {
                bar.abandon();
            }
            status_bar.abandon();
            return;
        }
        drop(t);
        std::thread::sleep(Duration::from_millis(150));
    }
}

/// Inserts `pb` above the status line when it exists.
trait InsertBefore {
    fn insert_before_last_or_add(&self, pb: ProgressBar, last: Option<&ProgressBar>)
    -> ProgressBar;
}

impl InsertBefore for MultiProgress {
    fn insert_before_last_or_add(
        &self,
        pb: ProgressBar,
        last: Option<&ProgressBar>,
    ) -> ProgressBar {
        match last {
            Some(l) => self.insert_before(l, pb),
            None => self.add(pb),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use roster_core::plan::{BucketPlan, Rate};

    #[test]
    fn eta_follows_the_plan() {
        let plan = Plan::default()
            .totals(vec![("teams".into(), 50)])
            .buckets(vec![BucketPlan::new(
                "GET /api/v1/teams.members",
                50,
                Some(Rate::new(10, Duration::from_secs(60))),
                true,
            )])
            .estimated_ms(0)
            .advice(vec![]);
        let t = Tracker::new("test", Some(plan), false);
        let st = t.state();
        let eta = t.eta(&st, Instant::now()).unwrap();
        assert_eq!(eta, Duration::from_secs(240));
        drop(st);
        for _ in 0..20 {
            t.event(ProgressEvent::Request("GET /api/v1/teams.members"));
        }
        t.event(ProgressEvent::RateLimitWait(
            "GET /api/v1/teams.members",
            Duration::from_secs(30),
        ));
        let st = t.state();
        let eta = t.eta(&st, Instant::now()).unwrap();
        assert!(
            eta > Duration::from_secs(145) && eta <= Duration::from_secs(150),
            "{eta:?}"
        );
        assert!(st.waiting.contains_key("GET /api/v1/teams.members"));
    }

    #[test]
    fn long_waits_are_announced_once_with_what_how_long_and_why() {
        let t = Tracker::new("test", None, false);
        let now = Instant::now();
        let why =
            "retrying after: GET /x: rate limited (HTTP 429); the server asked to wait 200.0 s";
        assert_eq!(
            t.wait_notice("GET /x", Duration::from_secs(2), why, now),
            None,
            "short waits stay quiet"
        );
        let line = t
            .wait_notice("GET /api/v4/users", Duration::from_secs(200), why, now)
            .expect("a long wait is announced");
        assert!(line.contains("GET /api/v4/users"), "{line}");
        assert!(line.contains("3 min") || line.contains("200"), "{line}");
        assert!(line.contains("HTTP 429"), "{line}");
        // Concurrent calls waiting for the same reset: one line.
        assert_eq!(
            t.wait_notice("GET /api/v4/teams", Duration::from_secs(201), why, now),
            None
        );
        // A later, longer wait is announced again.
        assert!(
            t.wait_notice("GET /x", Duration::from_secs(400), why, now)
                .is_some()
        );
        // Control characters from a server message cannot reach the terminal raw.
        let line = t
            .wait_notice("GET /y", Duration::from_secs(3600), "bad\x1b[2Jtext", now)
            .unwrap();
        assert!(!line.contains('\x1b'), "{line:?}");
    }
}
