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
//!
//! A listing whose pages declare a `total` (any strategy) is complete once
//! the distinct ids read since the total last changed reach it, across
//! passes. A repeat with an unchanged total is then an unstable *order*
//! (Mattermost sorts `/teams` by display name alone; tied rows come back in
//! a different order on each page), not a change: only the pages around the
//! repeats are read again until the total is reached. A total that changes
//! still means a real change and a full re-read.
//!
//! Every listing is bounded ([`PagingLimits`]): distinct ids (by a known
//! size plus a margin, or an absolute cap), growth of the declared total,
//! pages that only repeat rows of the pass, rows per pass, passes, repair
//! rounds and requests. Memory is one page plus one 32-byte entry per id.

use std::collections::hash_map::DefaultHasher;
use std::collections::hash_map::Entry;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::future::Future;
use std::hash::{BuildHasher, Hash, Hasher};

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
///
/// A listing ends on its own (a short or empty page, `total` reached, no
/// next cursor). These bounds end it when the server never lets it: every
/// listing stops, in bounded memory and a bounded number of requests, with
/// an error naming the listing (the engine turns it into a warning and a
/// `complete:false` snapshot). See `docs/reliability.md`, "Bounds".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct PagingLimits {
    /// Hard cap on requests for one listing, over all passes (the loop
    /// guard of last resort).
    pub max_pages: u32,
    /// Passes over a listing that keeps shifting before giving up.
    pub max_passes: u32,
    /// Read a listing that took more than one page a second time, to find
    /// rows skipped because an earlier row was *removed* during the read
    /// (the list closed up; no id repeats, so nothing else reveals it). For
    /// listings without a `total`, where removals are common (members).
    pub confirm_multi_page: bool,
    /// Absolute cap on the distinct ids one listing may return. It also
    /// bounds the listing's memory: one 32-byte entry per id (a 128-bit
    /// hash, whatever the id's length), about 70 MB at 1,000,000.
    pub max_items: u64,
    /// How many items the listing is known to hold before it is read (for
    /// example a count from validation); `None` when unknown. A listing
    /// that returns more distinct ids than this plus the margin stops.
    pub expected_items: Option<u64>,
    /// Margin over a known size (`expected_items` or the `total` of the
    /// first page), in percent of that size.
    pub margin_percent: u32,
    /// Margin over a known size, in items, added to the percent margin (so
    /// small listings may still grow a little while read).
    pub margin_items: u64,
    /// Consecutive pages of one pass that bring no id new to that pass
    /// (the server repeats pages, e.g. A, B, A, B) before the listing is
    /// declared unstable.
    pub max_stale_pages: u32,
    /// For a listing with a declared `total` whose order is not stable
    /// (Mattermost teams sharing a display name: a database sort returns
    /// tied rows in a different order for each page), rounds of re-reading
    /// only the pages where ids repeated, before reading the whole listing
    /// again. Each round costs one request per such page.
    pub max_repair_rounds: u32,
}

/// Builder-style setters: `PagingLimits::default()` and change what differs.
impl PagingLimits {
    /// Sets the `max_pages` field.
    #[must_use]
    pub fn max_pages(mut self, max_pages: u32) -> Self {
        self.max_pages = max_pages;
        self
    }

    /// Sets the `max_passes` field.
    #[must_use]
    pub fn max_passes(mut self, max_passes: u32) -> Self {
        self.max_passes = max_passes;
        self
    }

    /// Sets the `confirm_multi_page` field.
    #[must_use]
    pub fn confirm_multi_page(mut self, confirm_multi_page: bool) -> Self {
        self.confirm_multi_page = confirm_multi_page;
        self
    }

    /// Sets the `max_items` field.
    #[must_use]
    pub fn max_items(mut self, max_items: u64) -> Self {
        self.max_items = max_items;
        self
    }

    /// Sets the `expected_items` field.
    #[must_use]
    pub fn expected_items(mut self, expected_items: Option<u64>) -> Self {
        self.expected_items = expected_items;
        self
    }

    /// Sets the `margin_percent` field.
    #[must_use]
    pub fn margin_percent(mut self, margin_percent: u32) -> Self {
        self.margin_percent = margin_percent;
        self
    }

    /// Sets the `margin_items` field.
    #[must_use]
    pub fn margin_items(mut self, margin_items: u64) -> Self {
        self.margin_items = margin_items;
        self
    }

    /// Sets the `max_stale_pages` field.
    #[must_use]
    pub fn max_stale_pages(mut self, max_stale_pages: u32) -> Self {
        self.max_stale_pages = max_stale_pages;
        self
    }

    /// Sets the `max_repair_rounds` field.
    #[must_use]
    pub fn max_repair_rounds(mut self, max_repair_rounds: u32) -> Self {
        self.max_repair_rounds = max_repair_rounds;
        self
    }
}

impl PagingLimits {
    /// The defaults, with [`confirm_multi_page`](Self::confirm_multi_page) on.
    pub fn confirming() -> Self {
        Self {
            confirm_multi_page: true,
            ..Self::default()
        }
    }

    /// With [`expected_items`](Self::expected_items) set to `n`.
    pub fn with_expected_items(mut self, n: u64) -> Self {
        self.expected_items = Some(n);
        self
    }

    /// The most distinct ids a listing of `known` items may return:
    /// `known` plus the margin, never above [`max_items`](Self::max_items).
    pub fn bound(&self, known: u64) -> u64 {
        let percent = known.saturating_mul(u64::from(self.margin_percent)) / 100;
        known
            .saturating_add(percent)
            .saturating_add(self.margin_items)
            .min(self.max_items)
    }
}

impl Default for PagingLimits {
    /// 20,000 requests, 3 passes, 1,000,000 distinct ids (about 70 MB of
    /// dedupe table at most), a margin of 10% + 100 items over a known
    /// size, 3 stale pages, 16 repair rounds.
    fn default() -> Self {
        Self {
            max_pages: 20_000,
            max_passes: 3,
            confirm_multi_page: false,
            max_items: 1_000_000,
            expected_items: None,
            margin_percent: 10,
            margin_items: 100,
            max_stale_pages: 3,
            max_repair_rounds: 16,
        }
    }
}

/// Ids kept as 128-bit keyed hashes: constant size whatever the server
/// sends as an id, and (with random keys) no practical collisions.
struct IdHasher {
    a: std::hash::RandomState,
    b: std::hash::RandomState,
}

impl IdHasher {
    fn new() -> Self {
        Self {
            a: std::hash::RandomState::new(),
            b: std::hash::RandomState::new(),
        }
    }
    fn id(&self, key: &str) -> u128 {
        (u128::from(self.a.hash_one(key)) << 64) | u128::from(self.b.hash_one(key))
    }
}

/// Whether the current pass reads the listing from the start or only
/// re-reads the pages where ids repeated.
enum Mode {
    Full,
    Repair { plan: Vec<u32>, next: usize },
}

struct State<F> {
    fetch: F,
    paging: Paging,
    limits: PagingLimits,
    endpoint: String,
    ids: IdHasher,
    // position
    page: u32,
    offset: u64,
    cursor: Option<String>,
    /// Hashes of the cursors of this pass (constant size per cursor).
    seen_cursors: HashSet<u128>,
    pages: u32,
    pass_pages: u32,
    pass_rows: u64,
    pass_total: Option<u64>,
    last_signature: Option<u64>,
    // page-number cap detection
    cap: Option<u32>,
    probe_short_len: Option<u32>,
    // declared total
    first_total: Option<u64>,
    last_total: Option<u64>,
    /// Bumped whenever the declared total changes.
    epoch: u32,
    /// Distinct ids read in the current epoch (over passes).
    epoch_count: u64,
    total_changed: bool,
    // shifting
    pass: u32,
    mode: Mode,
    repair_rounds: u32,
    /// Page-number pages around repeated ids (repair candidates).
    suspects: BTreeSet<u32>,
    /// Every id emitted, with where it was last seen: one entry (32 bytes)
    /// per distinct id serves dedupe, repeats within a pass and the count
    /// towards a declared total.
    seen: HashMap<u128, Seen>,
    stale_run: u32,
    repeated: bool,
    shifted: bool,
    done: bool,
    pending_error: Option<Error>,
}

/// Where an id was last seen.
#[derive(Debug, Clone, Copy)]
struct Seen {
    /// The pass that last returned it.
    pass: u32,
    /// The page of that pass that first returned it.
    page: u32,
    /// The total epoch it was last counted in.
    epoch: u32,
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
///
/// When pages carry a `total` ([`Page::with_total`], for page-number
/// listings too), the listing is complete once the ids read since the
/// total last changed number at least that total, across passes: a
/// listing whose order is merely unstable (ties re-ordered per request)
/// ends exact instead of looking "shifted", while a total that changes
/// still causes a re-read.
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
        ids: IdHasher::new(),
        page: 0,
        offset: 0,
        cursor: None,
        seen_cursors: HashSet::new(),
        pages: 0,
        pass_pages: 0,
        pass_rows: 0,
        pass_total: None,
        last_signature: None,
        cap,
        probe_short_len: None,
        first_total: None,
        last_total: None,
        epoch: 0,
        epoch_count: 0,
        total_changed: false,
        pass: 1,
        mode: Mode::Full,
        repair_rounds: 0,
        suspects: BTreeSet::new(),
        seen: HashMap::new(),
        stale_run: 0,
        repeated: false,
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

/// What to do once a pass or a repair round has ended.
enum AfterPass {
    Done,
    Repair,
    FullPass,
    GiveUp,
}

impl<F> State<F> {
    fn asked_per_page(&self) -> u32 {
        match self.paging {
            Paging::PageNumber { per_page, .. } => {
                self.cap.map_or(per_page, |c| per_page.min(c)).max(1)
            }
            _ => 0,
        }
    }

    fn request(&self) -> PageRequest {
        match (&self.mode, self.paging) {
            (Mode::Repair { plan, next }, Paging::PageNumber { .. }) => PageRequest::Number {
                page: plan.get(*next).copied().unwrap_or(0),
                per_page: self.asked_per_page(),
            },
            (_, Paging::PageNumber { .. }) => PageRequest::Number {
                page: self.page,
                per_page: self.asked_per_page(),
            },
            (_, Paging::Offset { count }) => PageRequest::Offset {
                offset: self.offset,
                count,
            },
            (_, Paging::Cursor) => PageRequest::Cursor(self.cursor.clone()),
        }
    }

    fn fail<T>(&mut self, message: String) -> Step<T> {
        self.done = true;
        Step::Fail(Error::Paging {
            endpoint: self.endpoint.clone(),
            message,
        })
    }

    /// Ends the stream with `fresh` and then `Unstable`.
    fn give_up<T>(&mut self, fresh: Vec<T>) -> Step<T> {
        self.done = true;
        self.pending_error = Some(Error::Unstable {
            endpoint: self.endpoint.clone(),
            passes: self.pass,
        });
        Step::Items(fresh)
    }

    /// The most distinct ids this listing may return, from what is known.
    fn item_bound(&self) -> u64 {
        let known = match (self.limits.expected_items, self.first_total) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        known.map_or(self.limits.max_items, |k| self.limits.bound(k))
    }

    /// Records a page's declared total; `Err` when it grew past the bound.
    fn note_total(&mut self, total: Option<u64>) -> std::result::Result<(), String> {
        let Some(t) = total else { return Ok(()) };
        let first = *self.first_total.get_or_insert(t);
        if t > self.limits.bound(first).max(first) {
            return Err(format!(
                "the declared total grew from {first} to {t} while the listing was read \
                 (more than the margin of {}% + {}); stopping. If the listing really grows \
                 this fast, sync again later or raise PagingLimits::margin_percent",
                self.limits.margin_percent, self.limits.margin_items
            ));
        }
        if self.last_total.is_some_and(|l| l != t) {
            // Rows were added or removed under the reader: count again.
            self.total_changed = true;
            self.epoch += 1;
            self.epoch_count = 0;
        }
        self.last_total = Some(t);
        Ok(())
    }

    /// Whether every id of the declared total has been read since the total
    /// last changed.
    fn total_reached(&self) -> bool {
        self.last_total.is_some_and(|t| self.epoch_count >= t)
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
                    "more than {max} pages; stopping to avoid an endless loop \
                     (raise PagingLimits::max_pages if the listing is really this long)"
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
            self.pass_rows = self.pass_rows.saturating_add(raw_len as u64);

            // Loop guard: the same non-empty page twice in a row. Not for a
            // listing with a declared total, whose pages of one tied run can
            // legitimately look alike (the stale-page bound covers it), nor
            // while re-reading pages out of order.
            let declared = self.last_total.is_some() || page.total.is_some();
            if raw_len > 0 && !declared && matches!(self.mode, Mode::Full) {
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
            if let Err(msg) = self.note_total(page.total) {
                return Some(self.fail(msg));
            }

            let repairing = matches!(self.mode, Mode::Repair { .. });
            let this_page = match request {
                PageRequest::Number { page, .. } => page,
                _ => self.pass_pages - 1,
            };
            // A row already seen on an earlier page of this pass means the
            // listing shifted (or its order is unstable); a row twice inside
            // one page is only a quirk. Repair rounds read pages out of
            // order, so repeats there mean nothing.
            let page_numbers = matches!(self.paging, Paging::PageNumber { .. });
            let (pass, epoch) = (self.pass, self.epoch);
            let mut new_to_pass = 0usize;
            let mut fresh = Vec::new();
            for item in page.items {
                let id = self.ids.id(item.key());
                match self.seen.entry(id) {
                    Entry::Vacant(v) => {
                        v.insert(Seen {
                            pass,
                            page: this_page,
                            epoch,
                        });
                        new_to_pass += 1;
                        self.epoch_count += 1;
                        fresh.push(item);
                    }
                    Entry::Occupied(mut o) => {
                        let s = o.get_mut();
                        if s.epoch != epoch {
                            s.epoch = epoch;
                            self.epoch_count += 1;
                        }
                        if repairing {
                            continue;
                        }
                        if s.pass != pass {
                            s.pass = pass;
                            s.page = this_page;
                            new_to_pass += 1;
                        } else if s.page != this_page {
                            self.repeated = true;
                            if page_numbers {
                                self.suspects.extend(s.page.min(this_page)..=this_page);
                            }
                        }
                    }
                }
            }
            if !repairing {
                if raw_len > 0 && new_to_pass == 0 {
                    self.stale_run += 1;
                    if self.stale_run >= self.limits.max_stale_pages.max(1) {
                        let n = self.stale_run;
                        return Some(self.fail(format!(
                            "unstable listing: {n} pages in a row only repeated rows already \
                             read in this pass (the server repeats pages); stopping"
                        )));
                    }
                } else {
                    self.stale_run = 0;
                }
            }
            let bound = self.item_bound();
            if self.seen.len() as u64 > bound {
                let known = match (self.limits.expected_items, self.first_total) {
                    (None, None) => "PagingLimits::max_items".to_owned(),
                    (e, t) => format!(
                        "the known size ({}) plus the margin",
                        e.into_iter().chain(t).max().unwrap_or(0)
                    ),
                };
                // Emit nothing past the bound: the caller sees at most
                // `bound` items.
                let keep = usize::try_from(bound)
                    .unwrap_or(usize::MAX)
                    .saturating_sub(self.seen.len() - fresh.len());
                fresh.truncate(keep);
                self.done = true;
                self.pending_error = Some(Error::Paging {
                    endpoint: self.endpoint.clone(),
                    message: format!(
                        "the listing returned more than {bound} distinct ids ({known}); \
                         stopping. If it really holds more, raise PagingLimits::max_items"
                    ),
                });
                return Some(Step::Items(fresh));
            }
            if self.pass_rows > bound.saturating_mul(2).saturating_add(1_000) {
                let rows = self.pass_rows;
                return Some(self.fail(format!(
                    "unstable listing: one pass returned {rows} rows for at most {bound} \
                     distinct ids; stopping"
                )));
            }

            let end_of_pass = match &mut self.mode {
                Mode::Repair { plan, next } => {
                    *next += 1;
                    *next >= plan.len()
                }
                Mode::Full => match self.advance(raw_len, page.total, page.next_cursor) {
                    Ok(end) => end,
                    Err(msg) => return Some(self.fail(msg)),
                },
            };
            if end_of_pass {
                match self.after_pass() {
                    AfterPass::Done => {
                        self.done = true;
                        return Some(Step::Items(fresh));
                    }
                    AfterPass::GiveUp => return Some(self.give_up(fresh)),
                    AfterPass::Repair => {
                        tracing::debug!(endpoint = %self.endpoint, pages = self.suspects.len(), "Ids missing from a listing with an unstable order; re-reading the pages where ids repeated.");
                        self.start_repair();
                    }
                    AfterPass::FullPass => {
                        tracing::debug!(endpoint = %self.endpoint, pass = self.pass, "Listing shifted while read; reading it again.");
                        self.restart();
                    }
                }
            }
            if !fresh.is_empty() {
                return Some(Step::Items(fresh));
            }
        }
    }

    /// Decides what follows a finished pass or repair round.
    fn after_pass(&mut self) -> AfterPass {
        let repairing = matches!(self.mode, Mode::Repair { .. });
        if self.last_total.is_some() {
            // A declared total: complete once every id of it was read since
            // it last changed, whatever order the pages came in.
            if self.total_reached() {
                return AfterPass::Done;
            }
            if !repairing && !self.repeated && !self.total_changed && !self.shifted {
                // Fewer ids than declared, but nothing moved: the total
                // counts rows the listing does not show.
                return AfterPass::Done;
            }
            let order_only = !self.total_changed && !self.suspects.is_empty();
            if order_only && self.repair_rounds < self.limits.max_repair_rounds {
                return AfterPass::Repair;
            }
        } else {
            if self.limits.confirm_multi_page && self.pass == 1 && self.pass_pages > 1 {
                // A removal during a multi-page read skips a row
                // silently: one confirming pass finds it.
                self.shifted = true;
            }
            if !self.shifted && !self.repeated {
                return AfterPass::Done;
            }
        }
        if self.pass >= self.limits.max_passes {
            AfterPass::GiveUp
        } else {
            AfterPass::FullPass
        }
    }

    fn start_repair(&mut self) {
        self.repair_rounds += 1;
        self.mode = Mode::Repair {
            plan: self.suspects.iter().copied().collect(),
            next: 0,
        };
        self.last_signature = None;
        self.total_changed = false;
        self.pass_rows = 0;
    }

    fn restart(&mut self) {
        self.pass += 1;
        self.mode = Mode::Full;
        self.repair_rounds = 0;
        self.suspects.clear();
        self.pass_pages = 0;
        self.pass_rows = 0;
        self.pass_total = None;
        self.page = 0;
        self.offset = 0;
        self.cursor = None;
        self.seen_cursors.clear();
        self.last_signature = None;
        self.stale_run = 0;
        self.repeated = false;
        self.total_changed = false;
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
                    if !self.seen_cursors.insert(self.ids.id(&c)) {
                        let shown: String = c.chars().take(64).collect();
                        return Err(format!("the server returned cursor `{shown}` twice"));
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

    /// A page-number server with a total whose rows sort in runs of `run`
    /// equal keys, each run re-ordered on every request (a database top-N
    /// sort on a non-unique key), optionally inserting a row sorting first
    /// before request `insert_at`.
    fn tie_server(
        n: usize,
        run: usize,
        insert_at: Option<usize>,
        calls: Arc<Mutex<usize>>,
    ) -> impl FnMut(PageRequest) -> futures::future::Ready<Result<Page<Row>>> + Send {
        let mut data = rows(0..n);
        move |req| {
            let call = {
                let mut c = calls.lock().unwrap();
                *c += 1;
                *c
            };
            if insert_at == Some(call) {
                data.insert(0, Row("inserted".into()));
            }
            let PageRequest::Number { page, per_page } = req else {
                panic!("wrong request kind")
            };
            let mut order = data.clone();
            // Runs start after the first row, so they straddle pages.
            let head = 1 + usize::from(order.first().is_some_and(|r| r.0 == "inserted"));
            for (k, chunk) in order[head..].chunks_mut(run).enumerate() {
                // A per-request, per-run rotation.
                let mut h = DefaultHasher::new();
                (call, k).hash(&mut h);
                let by = (h.finish() % chunk.len() as u64) as usize;
                chunk.rotate_left(by);
            }
            let per = per_page as usize;
            let start = (page as usize * per).min(order.len());
            let end = (start + per).min(order.len());
            let total = order.len() as u64;
            futures::future::ready(Ok(Page::new(order[start..end].to_vec()).with_total(total)))
        }
    }

    fn sorted_ids(got: &[Row]) -> Vec<String> {
        let mut ids: Vec<String> = got.iter().map(|r| r.0.clone()).collect();
        ids.sort();
        ids
    }

    #[tokio::test]
    async fn ties_reordered_per_request_end_exact_when_a_total_is_declared() {
        let paging = Paging::PageNumber {
            per_page: 10,
            server_cap: Some(10),
        };
        for run in [2, 3, 7, 25] {
            let calls = Arc::new(Mutex::new(0));
            let fetch = tie_server(1_000, run, None, calls.clone());
            let (got, err) = collect(paginate(
                "GET /teams",
                paging,
                PagingLimits::default(),
                fetch,
            ))
            .await;
            assert!(err.is_none(), "run {run}: {err:?}");
            let ids = sorted_ids(&got);
            assert_eq!(ids.len(), 1_000, "run {run}: no duplicates");
            assert_eq!(ids, sorted_ids(&rows(0..1_000)), "run {run}: every row");
            let calls = *calls.lock().unwrap();
            // One pass is 101 requests. Here every page boundary cuts a
            // run (the worst case): repairs re-read those pages until the
            // total is reached (measured: 377 to 893 requests).
            assert!(calls > 101, "run {run}: the ties really straddled pages");
            assert!(calls < 10 * 101, "run {run}: {calls} requests");
        }
    }

    #[tokio::test]
    async fn ties_and_a_real_insertion_still_reread_the_listing() {
        let paging = Paging::PageNumber {
            per_page: 10,
            server_cap: Some(10),
        };
        let calls = Arc::new(Mutex::new(0));
        let fetch = tie_server(500, 2, Some(20), calls.clone());
        let (got, err) = collect(paginate(
            "GET /teams",
            paging,
            PagingLimits::default(),
            fetch,
        ))
        .await;
        assert!(err.is_none(), "{err:?}");
        let ids = sorted_ids(&got);
        assert_eq!(ids.len(), 501, "no duplicates; the inserted row is found");
        assert!(ids.contains(&"inserted".to_owned()));
        assert!(*calls.lock().unwrap() > 51 + 20, "a second full pass");
    }

    #[tokio::test]
    async fn a_total_changing_on_every_page_never_counts_as_complete() {
        // Every page inserts a row sorting first (total + 1): rows shift
        // and the union may reach a total, but never one that held still.
        let mut data = rows(0..50);
        let mut n = 0;
        let fetch = move |req: PageRequest| {
            n += 1;
            data.insert(0, Row(format!("new{n:04}")));
            let PageRequest::Number { page, per_page } = req else {
                unreachable!()
            };
            let per = per_page as usize;
            let start = (page as usize * per).min(data.len());
            let end = (start + per).min(data.len());
            let total = data.len() as u64;
            futures::future::ready(Ok(Page::new(data[start..end].to_vec()).with_total(total)))
        };
        let paging = Paging::PageNumber {
            per_page: 10,
            server_cap: Some(10),
        };
        let (got, err) = collect(paginate(
            "GET /teams",
            paging,
            PagingLimits::default(),
            fetch,
        ))
        .await;
        assert!(
            matches!(err, Some(Error::Unstable { passes: 3, .. })),
            "{err:?}"
        );
        let ids = sorted_ids(&got);
        let mut dedup = ids.clone();
        dedup.dedup();
        assert_eq!(ids, dedup, "no duplicates");
    }

    #[tokio::test]
    async fn default_limits_bound_an_endless_listing() {
        let calls = Arc::new(Mutex::new(0u64));
        let counted = calls.clone();
        let fetch = move |req: PageRequest| {
            *counted.lock().unwrap() += 1;
            let PageRequest::Number { page, per_page } = req else {
                unreachable!()
            };
            let from = page as usize * per_page as usize;
            futures::future::ready(Ok(Page::new(rows(from..from + per_page as usize))))
        };
        let paging = Paging::PageNumber {
            per_page: 5_000,
            server_cap: Some(5_000),
        };
        let s = paginate("GET /endless", paging, PagingLimits::default(), fetch);
        let (got, err) = collect(s).await;
        assert_eq!(got.len(), 1_000_000, "stops at the default max_items");
        assert_eq!(*calls.lock().unwrap(), 201, "200 pages and the one over");
        let msg = err.expect("an error naming the bound").to_string();
        assert!(msg.contains("GET /endless"), "{msg}");
        assert!(msg.contains("more than 1000000 distinct ids"), "{msg}");
    }

    #[test]
    fn bound_adds_the_margin_and_respects_the_cap() {
        let l = PagingLimits::default();
        assert_eq!(l.bound(0), 100);
        assert_eq!(l.bound(5_000), 5_600);
        assert_eq!(l.bound(u64::MAX), 1_000_000);
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
