//! Sending a call: pacing (client quota, then the server's header gate),
//! the request itself, a streamed body under its cap, and retries within
//! the request's time budget.

use std::sync::Mutex;
use std::time::Duration;

use backon::Retryable;
use bytes::{Bytes, BytesMut};
use reqwest::header::HeaderMap;
use serde::de::DeserializeOwned;

use super::budget::BudgetClock;
use super::client::HttpClient;
use super::endpoint::{Call, Method};
use super::response::Response;
use crate::error::{Error, Result};
use crate::progress::ProgressEvent;
use crate::ratelimit::RateLimitMode;
use crate::ratelimit::Sent;
use crate::retry::RetryPolicy;
use crate::validate::format_duration;

impl HttpClient {
    /// Sends `call` with pacing and retries; returns a 2xx response.
    pub async fn send(&self, call: &Call) -> Result<Response> {
        self.execute(call, |r| Ok(r.clone()), self.inner.config.retry)
            .await
    }

    /// Sends `call` once, without retries (connectivity checks).
    pub async fn send_once(&self, call: &Call) -> Result<Response> {
        self.execute(call, |r| Ok(r.clone()), RetryPolicy::none())
            .await
    }

    /// Sends `call` and decodes the JSON body. A body that does not decode is
    /// retried like a broken transfer, then reported with the JSON path and
    /// an excerpt.
    pub async fn json<T: DeserializeOwned>(&self, call: &Call) -> Result<T> {
        let label = call.label();
        self.execute(
            call,
            |r| self.decode(&label, &r.body),
            self.inner.config.retry,
        )
        .await
    }

    /// Sends `call` until it succeeds, fails for good, or its time budget
    /// ([`ClientOptions::request_budget`](super::ClientOptions::request_budget))
    /// runs out. Everything counts in the budget: the attempts, the backoff,
    /// and the waits the server asks for (`Retry-After`, rate-limit
    /// resets), so a server cannot stretch one request beyond it.
    async fn execute<T, D>(&self, call: &Call, decode: D, policy: RetryPolicy) -> Result<T>
    where
        D: Fn(&Response) -> Result<T>,
    {
        let clock = BudgetClock::start();
        let budget = self.inner.config.request_budget;
        let label = call.label();
        // Set when the next retry would end beyond the budget.
        let over: Mutex<Option<(Duration, Duration)>> = Mutex::default();
        let attempt = || async {
            let response = self.attempt(call, &clock, budget).await?;
            decode(&response)
        };
        let result = attempt
            .retry(policy.backoff())
            .sleep(tokio::time::sleep)
            .when(Error::is_retryable)
            .adjust(|e: &Error, planned| {
                let delay = RetryPolicy::adjust(e.retry_after(), planned)?;
                let spent = clock.spent();
                if spent + delay > budget {
                    *over.lock().expect("budget lock") = Some((spent, delay));
                    return None;
                }
                Some(delay)
            })
            .notify(|e: &Error, delay| {
                self.inner.stats.retry();
                tracing::debug!(endpoint = %label, error = %e, ?delay, "Retrying request.");
                let why = format!("retrying after: {e}");
                self.progress().event(ProgressEvent::Waiting {
                    endpoint: &label,
                    wait: delay,
                    why: &why,
                });
            })
            .await;
        match (result, over.into_inner().expect("budget lock")) {
            (Err(e), Some((spent, delay))) => Err(Error::TimeBudget {
                endpoint: label,
                budget,
                spent,
                why: format!(
                    "after `{e}` the next attempt would wait {}",
                    format_duration(delay)
                ),
            }),
            (result, _) => result,
        }
    }

    async fn attempt(
        &self,
        call: &Call,
        clock: &BudgetClock,
        budget: Duration,
    ) -> Result<Response> {
        let inner = &self.inner;
        let bucket = call.endpoint.bucket();
        let gate_key = self.gate_key_of(&bucket);
        let limiter_key = format!("{}{bucket}", inner.key_prefix);
        let label = call.label();
        let progress = self.progress();

        let on_wait = |wait: Duration| {
            progress.event(ProgressEvent::RateLimitWait(&bucket, wait));
            tracing::debug!(endpoint = %label, ?wait, "Waiting for rate limit.");
        };
        let on_quota_wait = |wait: Duration| {
            on_wait(wait);
            progress.event(ProgressEvent::Waiting {
                endpoint: &label,
                wait,
                why: "the client-side request quota (rate limit) is used up",
            });
        };
        // A server-requested wait beyond the request's budget fails the
        // request at once instead of sleeping through it.
        let too_long: Mutex<Option<Duration>> = Mutex::default();
        let wake = tokio::sync::Notify::new();
        let on_gate_wait = |wait: Duration| {
            on_wait(wait);
            if clock.spent() + wait > budget {
                *too_long.lock().expect("budget lock") = Some(wait);
                wake.notify_one();
                return;
            }
            progress.event(ProgressEvent::Waiting {
                endpoint: &label,
                wait,
                why: "the server's rate-limit headers said no calls are left until the limit resets",
            });
        };
        let bypass = self.bypasses_rate_limit();
        let quota = match inner.config.rate_limit_mode() {
            RateLimitMode::Off => false,
            RateLimitMode::Auto { .. } => {
                match inner.pacer.gate.server_limit(&gate_key).map(|l| l.limited) {
                    // The server's own numbers pace through the gate.
                    Some(true) => false,
                    // No headers: free only for a token known to bypass.
                    Some(false) => !bypass,
                    // Nothing known yet: the safe quota, unless bypassing.
                    None => !bypass,
                }
            }
            _ => true,
        };
        let auto = matches!(inner.config.rate_limit_mode(), RateLimitMode::Auto { .. });
        let waited = if !quota {
            Duration::ZERO
        } else if auto {
            // In auto mode the safe quota only stands in until the server's
            // own numbers are known: a call queued behind it stops waiting as
            // soon as another call's answer brings the headers (the gate
            // paces from there).
            let queued = tokio::time::Instant::now();
            tokio::select! {
                w = inner.pacer.limiter.acquire(&limiter_key, &on_quota_wait) => w,
                () = self.server_limit_learned(&gate_key) => queued.elapsed(),
            }
        } else {
            inner
                .pacer
                .limiter
                .acquire(&limiter_key, &on_quota_wait)
                .await
        };
        clock.own_wait(waited);
        let unknown_is_free =
            bypass && matches!(inner.config.rate_limit_mode(), RateLimitMode::Auto { .. });
        let gate_waited = tokio::select! {
            w = inner
                .pacer
                .gate
                .wait_assuming(&gate_key, unknown_is_free, &on_gate_wait) => w,
            () = wake.notified() => {
                let asked = too_long.lock().expect("budget lock").unwrap_or_default();
                return Err(Error::TimeBudget {
                    endpoint: label.clone(),
                    budget,
                    spent: clock.spent(),
                    why: format!(
                        "the server's rate-limit headers asked to wait {} before the next call",
                        format_duration(asked)
                    ),
                });
            }
        };
        inner.stats.waited(waited + gate_waited);

        let mut url = inner
            .config
            .base_url()
            .join(call.path.trim_start_matches('/'))
            .map_err(|e| Error::Config(format!("cannot build URL for {label}: {e}")))?;
        if !call.query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(call.query.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        }
        let mut headers = HeaderMap::new();
        inner.auth.apply(&mut headers)?;
        let method = match call.endpoint.method {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
        };
        let mut req = inner.http.request(method, url).headers(headers);
        if let Some(body) = &call.body {
            req = req
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.clone());
        }

        inner.stats.request(&bucket);
        progress.event(ProgressEvent::Request(&bucket));
        tracing::trace!(endpoint = %label, "Sending request.");
        let sent = Sent::now(inner.pacer.gate.margin());
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => {
                inner.pacer.gate.release(&gate_key);
                return Err(self.transport_error(&label, &e));
            }
        };
        let status = resp.status().as_u16();
        let info = inner.pacer.dialect.parse_answer(
            |name| resp.headers().get(name).and_then(|v| v.to_str().ok()),
            Some(sent),
        );
        let rejected = status == 429;
        inner.pacer.gate.observe(&gate_key, &info, rejected);
        if rejected {
            inner.stats.rate_limited();
            return Err(Error::RateLimited {
                endpoint: label,
                wait: info.wait_after_rejection(),
            });
        }
        if (300..400).contains(&status) {
            let location = resp
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(|l| l.split('?').next().unwrap_or(l).to_owned())
                .unwrap_or_else(|| "(no Location header)".to_owned());
            return Err(Error::Redirect {
                endpoint: label,
                status,
                location,
            });
        }
        let headers = resp.headers().clone();
        let body = self.read_body(&label, resp).await?;
        if (200..300).contains(&status) {
            return Ok(Response {
                status,
                headers,
                body,
            });
        }
        Err(self.status_error(label, status, &body))
    }

    async fn read_body(&self, label: &str, mut resp: reqwest::Response) -> Result<Bytes> {
        let cap = self.inner.config.max_body_bytes;
        let too_large = || Error::TooLarge {
            endpoint: label.to_owned(),
            limit: cap,
        };
        if resp.content_length().is_some_and(|len| len > cap) {
            return Err(too_large());
        }
        let mut buf = BytesMut::new();
        loop {
            match resp.chunk().await {
                Ok(Some(chunk)) => {
                    if buf.len() as u64 + chunk.len() as u64 > cap {
                        return Err(too_large());
                    }
                    buf.extend_from_slice(&chunk);
                }
                Ok(None) => return Ok(buf.freeze()),
                Err(e) => return Err(self.transport_error(label, &e)),
            }
        }
    }
}
