//! The running rules engine: one task per enabled rule, attached to the broker as an internal
//! client, and one worker per action behind a bounded queue.
//!
//! ```text
//! publish --broker--> InternalClient "$rules/{rule}" --> rule task: SQL once per message
//!     rule task --republish--> broker (inline: a broker publish never waits)
//!     rule task --try_send--> action queue (bounded) --> worker: HTTP / S3 with retries
//!     full queue: counted, logged, error action      failure: error action (error payload)
//! API --RulesEngine::create_rule(..)--> store commit --> activate (within the call)
//! ```
//!
//! The rule task never waits on an action: a message that finds an action's queue full is
//! dropped for that action, so a slow HTTP endpoint never holds the broker or other rules back.
//! Rule changes replace the rule's task at once (the API calls [`RulesEngine`] after its
//! commit); the old task's queued actions still run.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use ferrocore_broker::{Broker, InternalClient, Message, now_ms};
use ferrocore_mqtt::{QoS, TopicName};
use ferrocore_shadow::{ShadowId, ShadowService};
use ferrocore_sql::{Env, Input, MqttProperties, Output};
use ferrocore_store::Store;
use object_store::{ObjectStore, ObjectStoreExt};
use parking_lot::{Mutex, RwLock};
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::error::RulesError;
use crate::error_payload::{ErrorPayload, Failure};
use crate::model::{ActionSpec, HttpSpec, RepublishSpec, RuleSpec, S3Spec, is_job_topic};
use crate::persist::{self, Destination, DestinationStatus};

/// Error actions that may wait at once, at least (else `queue_size`).
const MIN_ERROR_ACTIONS: usize = 100;

/// The engine's settings (the server's `[rules]` section).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RulesConfig {
    /// Region in ARNs.
    pub region: String,
    /// Account id in ARNs and `accountid()`.
    pub account_id: String,
    /// Local directory of the S3 action's buckets: objects go to `<dir>/<bucket>/<key>`.
    pub s3_dir: PathBuf,
    /// An S3-compatible endpoint (such as MinIO) instead of the local directory. Credentials
    /// come from the standard `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` variables.
    pub s3_endpoint: Option<String>,
    /// Messages each action may have waiting; more are dropped and sent to the error action.
    pub queue_size: usize,
    /// Retries of a failed action before the error action runs.
    pub retries: u32,
    /// Timeout of one HTTP request (actions and destination confirmations), milliseconds.
    pub http_timeout_ms: u64,
    /// Actions of one kind running at once, per rule action (HTTP and S3).
    pub concurrency: usize,
}

impl Default for RulesConfig {
    fn default() -> RulesConfig {
        RulesConfig {
            region: "us-east-1".into(),
            account_id: "000000000000".into(),
            s3_dir: PathBuf::from("ferrocore-data/s3"),
            s3_endpoint: None,
            queue_size: 1000,
            retries: 2,
            http_timeout_ms: 3000,
            concurrency: 8,
        }
    }
}

/// Counters since the engine started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RulesStats {
    /// Messages whose WHERE was true (per rule).
    pub matched: u64,
    /// Actions that succeeded.
    pub actions_ok: u64,
    /// Actions that failed after their retries.
    pub actions_failed: u64,
    /// Messages dropped because an action's queue was full.
    pub overflow: u64,
    /// Error actions run.
    pub error_actions: u64,
}

#[derive(Debug, Default)]
struct Counters {
    matched: AtomicU64,
    actions_ok: AtomicU64,
    actions_failed: AtomicU64,
    overflow: AtomicU64,
    error_actions: AtomicU64,
}

/// A page of a listing.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// The key of the last item when more follow.
    pub next: Option<String>,
}

impl<T> Page<T> {
    fn from_rows(mut rows: Vec<T>, limit: usize, key: impl Fn(&T) -> String) -> Page<T> {
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next = if more { rows.last().map(key) } else { None };
        Page { items: rows, next }
    }
}

/// The rules engine. Cheap to clone.
#[derive(Debug, Clone)]
pub struct RulesEngine {
    inner: Arc<Inner>,
}

struct Inner {
    broker: Broker,
    store: Store,
    config: RulesConfig,
    shadows: Option<ShadowService>,
    publisher: InternalClient,
    running: Mutex<HashMap<String, CancellationToken>>,
    destinations: RwLock<Vec<Destination>>,
    http: Option<reqwest::Client>,
    buckets: Mutex<HashMap<String, Arc<dyn ObjectStore>>>,
    enable_url_base: RwLock<String>,
    error_permits: Arc<Semaphore>,
    shutdown: CancellationToken,
    tracker: TaskTracker,
    counters: Counters,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RulesEngine").field("config", &self.config).finish_non_exhaustive()
    }
}

/// One message on its way through a rule's actions.
struct MessageCtx {
    rule: String,
    message: Arc<Message>,
    /// The topic `topic()` sees (a Basic Ingest prefix removed).
    topic: String,
    trace_id: String,
    timestamp_ms: i64,
    /// The publisher's address as `sourceip()` returns it.
    source_ip: Option<String>,
    error_action: Option<Arc<ActionSpec>>,
}

struct Job {
    ctx: Arc<MessageCtx>,
    payload: Bytes,
}

fn now_i64() -> i64 {
    i64::try_from(now_ms()).unwrap_or(i64::MAX)
}

impl RulesEngine {
    /// Loads the rules and destinations from `store` and starts every enabled rule. Must be
    /// called within a Tokio runtime. `shadows` serves `get_thing_shadow`.
    pub fn start(
        broker: &Broker,
        store: Store,
        shadows: Option<ShadowService>,
        config: RulesConfig,
    ) -> RulesEngine {
        // reqwest is built without a default crypto provider: use ring's. An error means one
        // is installed already, which is as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(config.http_timeout_ms.max(1)))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|error| tracing::error!(%error, "rules engine: no HTTP client"))
            .ok();
        let engine = RulesEngine {
            inner: Arc::new(Inner {
                broker: broker.clone(),
                publisher: InternalClient::new(broker, "$rules"),
                store,
                error_permits: Arc::new(Semaphore::new(config.queue_size.max(MIN_ERROR_ACTIONS))),
                config,
                shadows,
                running: Mutex::new(HashMap::new()),
                destinations: RwLock::new(Vec::new()),
                http,
                buckets: Mutex::new(HashMap::new()),
                enable_url_base: RwLock::new(String::new()),
                shutdown: CancellationToken::new(),
                tracker: TaskTracker::new(),
                counters: Counters::default(),
            }),
        };
        engine.reload_destinations();
        match engine.inner.store.read(persist::all_rules) {
            Ok(rules) => {
                let count = rules.len();
                for rule in rules {
                    engine.activate(&rule.name, &rule.payload, rule.disabled);
                }
                tracing::info!(rules = count, "rules engine started");
            }
            Err(error) => tracing::error!(%error, "rules engine cannot read its rules"),
        }
        engine
    }

    /// The base of the `enableUrl` sent in destination confirmations, such as
    /// `http://127.0.0.1:9080` (set once the API listener is bound).
    pub fn set_enable_url_base(&self, base: &str) {
        *self.inner.enable_url_base.write() = base.trim_end_matches('/').to_owned();
    }

    /// The configuration.
    pub fn config(&self) -> &RulesConfig {
        &self.inner.config
    }

    /// The counters so far.
    pub fn stats(&self) -> RulesStats {
        let c = &self.inner.counters;
        RulesStats {
            matched: c.matched.load(Ordering::Relaxed),
            actions_ok: c.actions_ok.load(Ordering::Relaxed),
            actions_failed: c.actions_failed.load(Ordering::Relaxed),
            overflow: c.overflow.load(Ordering::Relaxed),
            error_actions: c.error_actions.load(Ordering::Relaxed),
        }
    }

    /// Names of the rules running now (enabled ones).
    pub fn running_rules(&self) -> Vec<String> {
        let mut names: Vec<String> = self.inner.running.lock().keys().cloned().collect();
        names.sort();
        names
    }

    /// Stops every rule, lets queued actions finish (at most 5 s), and waits.
    pub async fn stop(&self) {
        self.inner.shutdown.cancel();
        for (_, cancel) in self.inner.running.lock().drain() {
            cancel.cancel();
        }
        self.inner.tracker.close();
        if tokio::time::timeout(Duration::from_secs(5), self.inner.tracker.wait()).await.is_err() {
            tracing::warn!("rules engine: some actions did not finish within 5 s");
        }
        tracing::info!("rules engine stopped");
    }

    fn rule_arn(&self, name: &str) -> String {
        let c = &self.inner.config;
        format!("arn:aws:iot:{}:{}:rule/{name}", c.region, c.account_id)
    }

    // ---- API: topic rules ----

    /// CreateTopicRule.
    pub async fn create_rule(
        &self,
        name: &str,
        payload: &serde_json::Value,
    ) -> Result<(), RulesError> {
        crate::model::check_rule_name(name)?;
        let spec = RuleSpec::parse(payload)?;
        self.check_destinations(&spec)?;
        let rule = persist::StoredRule {
            name: name.to_owned(),
            arn: self.rule_arn(name),
            payload: spec.payload.clone(),
            sql: spec.sql.clone(),
            topic_pattern: spec.topic_pattern().map(str::to_owned),
            disabled: spec.disabled,
            created_ms: now_i64(),
        };
        let stored = rule.clone();
        self.inner
            .store
            .execute(move |tx| {
                if persist::rule(tx, &stored.name)?.is_some() {
                    return Err(RulesError::AlreadyExists {
                        message: format!("Rule {} already exists", stored.name),
                        resource_id: stored.name.clone(),
                        resource_arn: stored.arn.clone(),
                    });
                }
                persist::put_rule(tx, &stored, stored.created_ms)
            })
            .await?;
        self.activate(name, &rule.payload, rule.disabled);
        Ok(())
    }

    /// ReplaceTopicRule.
    pub async fn replace_rule(
        &self,
        name: &str,
        payload: &serde_json::Value,
    ) -> Result<(), RulesError> {
        crate::model::check_rule_name(name)?;
        let spec = RuleSpec::parse(payload)?;
        self.check_destinations(&spec)?;
        let key = name.to_owned();
        let arn = self.rule_arn(name);
        let stored_payload = spec.payload.clone();
        let sql = spec.sql.clone();
        let pattern = spec.topic_pattern().map(str::to_owned);
        let disabled = spec.disabled;
        self.inner
            .store
            .execute(move |tx| {
                let Some(old) = persist::rule(tx, &key)? else {
                    return Err(not_found(&key));
                };
                let rule = persist::StoredRule {
                    name: key,
                    arn,
                    payload: stored_payload,
                    sql,
                    topic_pattern: pattern,
                    disabled,
                    created_ms: old.created_ms,
                };
                persist::put_rule(tx, &rule, now_i64())
            })
            .await?;
        self.activate(name, &spec.payload, spec.disabled);
        Ok(())
    }

    /// GetTopicRule.
    pub fn get_rule(&self, name: &str) -> Result<persist::StoredRule, RulesError> {
        crate::model::check_rule_name(name)?;
        self.inner.store.read(|tx| persist::rule(tx, name))?.ok_or_else(|| not_found(name))
    }

    /// ListTopicRules: up to `limit` rules after `after`.
    pub fn list_rules(
        &self,
        topic: Option<&str>,
        disabled: Option<bool>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<persist::StoredRule>, RulesError> {
        let rows = self.inner.store.read(|tx| {
            persist::list_rules(tx, after.unwrap_or(""), topic, disabled, limit.saturating_add(1))
        })?;
        Ok(Page::from_rows(rows, limit, |r| r.name.clone()))
    }

    /// EnableTopicRule (`disabled` false) and DisableTopicRule (true).
    pub async fn set_rule_disabled(&self, name: &str, disabled: bool) -> Result<(), RulesError> {
        crate::model::check_rule_name(name)?;
        let key = name.to_owned();
        let rule = self
            .inner
            .store
            .execute(move |tx| {
                let Some(mut rule) = persist::rule(tx, &key)? else {
                    return Err(not_found(&key));
                };
                rule.disabled = disabled;
                if let Some(object) = rule.payload.as_object_mut() {
                    object.insert("ruleDisabled".into(), disabled.into());
                }
                persist::put_rule(tx, &rule, now_i64())?;
                Ok(rule)
            })
            .await?;
        self.activate(name, &rule.payload, rule.disabled);
        Ok(())
    }

    /// DeleteTopicRule.
    pub async fn delete_rule(&self, name: &str) -> Result<(), RulesError> {
        crate::model::check_rule_name(name)?;
        let key = name.to_owned();
        let existed = self.inner.store.execute(move |tx| persist::delete_rule(tx, &key)).await?;
        if !existed {
            return Err(not_found(name));
        }
        self.deactivate(name);
        Ok(())
    }

    /// Every HTTP action must match a confirmed destination.
    fn check_destinations(&self, spec: &RuleSpec) -> Result<(), RulesError> {
        let destinations = self.inner.destinations.read();
        for url in spec.http_urls() {
            match destinations.iter().find(|d| url.starts_with(&d.url)) {
                None => {
                    return Err(RulesError::InvalidRequest(format!(
                        "No topic rule destination matches the HTTP action URL {url}: create and confirm one first"
                    )));
                }
                Some(d)
                    if !matches!(
                        d.status,
                        DestinationStatus::Enabled | DestinationStatus::Disabled
                    ) =>
                {
                    return Err(RulesError::InvalidRequest(format!(
                        "The topic rule destination {} for {url} is not confirmed (status {})",
                        d.arn,
                        d.status.as_str()
                    )));
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    // ---- API: topic rule destinations ----

    fn reload_destinations(&self) {
        match self.inner.store.read(persist::all_destinations) {
            Ok(mut all) => {
                // Longest URL first: the most specific destination wins.
                all.sort_by_key(|d| std::cmp::Reverse(d.url.len()));
                *self.inner.destinations.write() = all;
            }
            Err(error) => tracing::error!(%error, "rules engine cannot read its destinations"),
        }
    }

    /// CreateTopicRuleDestination (HTTP URL): stored `IN_PROGRESS`, and the confirmation is
    /// POSTed to the URL in the background (a failure to send makes it `ERROR`).
    pub async fn create_destination(&self, url: &str) -> Result<Destination, RulesError> {
        let lower = url.to_ascii_lowercase();
        if url.len() > 2000 || !(lower.starts_with("https://") || lower.starts_with("http://")) {
            return Err(RulesError::InvalidRequest(format!(
                "confirmationUrl '{url}' must be an HTTP(S) URL of at most 2000 characters"
            )));
        }
        if reqwest::Url::parse(url).is_err() {
            return Err(RulesError::InvalidRequest(format!(
                "confirmationUrl '{url}' is not a URL"
            )));
        }
        let c = &self.inner.config;
        let now = now_i64();
        let destination = Destination {
            arn: format!(
                "arn:aws:iot:{}:{}:ruledestination/http/{}",
                c.region,
                c.account_id,
                uuid::Uuid::new_v4()
            ),
            url: url.to_owned(),
            status: DestinationStatus::InProgress,
            status_reason: None,
            token: new_token(),
            created_ms: now,
            updated_ms: now,
        };
        let stored = destination.clone();
        self.inner
            .store
            .execute(move |tx| {
                if let Some(existing) = persist::destination_by_url(tx, &stored.url)? {
                    return Err(RulesError::AlreadyExists {
                        message: format!(
                            "A topic rule destination for {} already exists",
                            stored.url
                        ),
                        resource_id: existing.arn.clone(),
                        resource_arn: existing.arn,
                    });
                }
                persist::put_destination(tx, &stored)
            })
            .await?;
        self.reload_destinations();
        self.send_confirmation(destination.clone());
        Ok(destination)
    }

    fn send_confirmation(&self, destination: Destination) {
        let Some(http) = self.inner.http.clone() else { return };
        let engine = self.clone();
        let enable_url = format!(
            "{}/confirmdestination/{}",
            self.inner.enable_url_base.read(),
            destination.token
        );
        let body = serde_json::json!({
            "arn": destination.arn,
            "confirmationToken": destination.token,
            "enableUrl": enable_url,
            "messageType": "DestinationConfirmation",
        });
        self.inner.tracker.spawn(async move {
            let sent = http
                .post(&destination.url)
                .header("content-type", "application/json")
                .body(body.to_string())
                .send()
                .await;
            let failure = match sent {
                Ok(response) if response.status().is_success() => None,
                Ok(response) => {
                    Some(format!("The confirmation URL answered {}", response.status()))
                }
                Err(error) => Some(format!("The confirmation could not be sent: {error}")),
            };
            let Some(reason) = failure else {
                tracing::info!(arn = destination.arn, "destination confirmation sent");
                return;
            };
            tracing::warn!(arn = destination.arn, reason, "destination confirmation failed");
            let arn = destination.arn.clone();
            let token = destination.token.clone();
            let result = engine
                .inner
                .store
                .execute(move |tx| {
                    if let Some(mut d) = persist::destination(tx, &arn)?
                        && d.status == DestinationStatus::InProgress
                        && d.token == token
                    {
                        d.status = DestinationStatus::Error;
                        d.status_reason = Some(reason);
                        d.updated_ms = now_i64();
                        persist::put_destination(tx, &d)?;
                    }
                    Ok::<(), RulesError>(())
                })
                .await;
            if let Err(error) = result {
                tracing::error!(%error, "destination status not saved");
            }
            engine.reload_destinations();
        });
    }

    /// GetTopicRuleDestination.
    pub fn get_destination(&self, arn: &str) -> Result<Destination, RulesError> {
        self.inner
            .store
            .read(|tx| persist::destination(tx, arn))?
            .ok_or_else(|| destination_not_found(arn))
    }

    /// ListTopicRuleDestinations.
    pub fn list_destinations(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<Destination>, RulesError> {
        let rows = self.inner.store.read(|tx| {
            persist::list_destinations(tx, after.unwrap_or(""), limit.saturating_add(1))
        })?;
        Ok(Page::from_rows(rows, limit, |d| d.arn.clone()))
    }

    /// UpdateTopicRuleDestination: `ENABLED` or `DISABLED` once confirmed; `IN_PROGRESS`
    /// sends a new confirmation.
    pub async fn update_destination(&self, arn: &str, status: &str) -> Result<(), RulesError> {
        let wanted = DestinationStatus::parse(status)
            .ok_or_else(|| RulesError::InvalidRequest(format!("Invalid status '{status}'")))?;
        let key = arn.to_owned();
        let updated = self
            .inner
            .store
            .execute(move |tx| {
                let Some(mut d) = persist::destination(tx, &key)? else {
                    return Err(destination_not_found(&key));
                };
                let confirmed =
                    matches!(d.status, DestinationStatus::Enabled | DestinationStatus::Disabled);
                match wanted {
                    DestinationStatus::Enabled | DestinationStatus::Disabled if confirmed => {}
                    DestinationStatus::Enabled | DestinationStatus::Disabled => {
                        return Err(RulesError::InvalidRequest(format!(
                            "The destination is {} and must be confirmed first",
                            d.status.as_str()
                        )));
                    }
                    DestinationStatus::InProgress => d.token = new_token(),
                    DestinationStatus::Error | DestinationStatus::Deleting => {
                        return Err(RulesError::InvalidRequest(format!(
                            "The status cannot be set to {}",
                            wanted.as_str()
                        )));
                    }
                }
                d.status = wanted;
                d.status_reason = None;
                d.updated_ms = now_i64();
                persist::put_destination(tx, &d)?;
                Ok(d)
            })
            .await?;
        self.reload_destinations();
        if updated.status == DestinationStatus::InProgress {
            self.send_confirmation(updated);
        }
        Ok(())
    }

    /// DeleteTopicRuleDestination.
    pub async fn delete_destination(&self, arn: &str) -> Result<(), RulesError> {
        let key = arn.to_owned();
        let existed =
            self.inner.store.execute(move |tx| persist::delete_destination(tx, &key)).await?;
        if !existed {
            return Err(destination_not_found(arn));
        }
        self.reload_destinations();
        Ok(())
    }

    /// ConfirmTopicRuleDestination: the token sent to the URL makes it `ENABLED`.
    pub async fn confirm_destination(&self, token: &str) -> Result<(), RulesError> {
        let key = token.to_owned();
        self.inner
            .store
            .execute(move |tx| {
                let Some(mut d) = persist::destination_by_token(tx, &key)? else {
                    return Err(RulesError::InvalidRequest(
                        "The confirmation token is not valid".into(),
                    ));
                };
                if matches!(d.status, DestinationStatus::InProgress | DestinationStatus::Error) {
                    d.status = DestinationStatus::Enabled;
                    d.status_reason = None;
                    d.updated_ms = now_i64();
                    persist::put_destination(tx, &d)?;
                }
                Ok(())
            })
            .await?;
        self.reload_destinations();
        Ok(())
    }

    // ---- runtime ----

    fn deactivate(&self, name: &str) {
        if let Some(cancel) = self.inner.running.lock().remove(name) {
            cancel.cancel();
        }
    }

    /// (Re)starts rule `name` from its stored payload, or stops it when disabled.
    fn activate(&self, name: &str, payload: &serde_json::Value, disabled: bool) {
        self.deactivate(name);
        if disabled || self.inner.shutdown.is_cancelled() {
            return;
        }
        let spec = match RuleSpec::parse(payload) {
            Ok(spec) => spec,
            Err(error) => {
                tracing::error!(rule = name, %error, "stored rule does not compile; not started");
                return;
            }
        };
        let client = InternalClient::new(&self.inner.broker, &format!("$rules/{name}"));
        if let Some(filter) = spec.topic_pattern()
            && let Err(error) = client.subscribe(filter, QoS::AtLeastOnce)
        {
            tracing::error!(rule = name, filter, %error, "rule cannot subscribe to its topic");
        }
        if let Err(error) = client.subscribe(&format!("$aws/rules/{name}/#"), QoS::AtLeastOnce) {
            tracing::error!(rule = name, %error, "rule cannot subscribe to Basic Ingest");
        }
        let error_action = spec.error_action.clone().map(Arc::new);
        let mut lanes = Vec::with_capacity(spec.actions.len());
        for action in &spec.actions {
            if let ActionSpec::Republish(republish) = action {
                // Publishing to the broker never waits: it runs in the rule task, in order.
                lanes.push(Lane::Inline(republish.clone()));
                continue;
            }
            let (tx, rx) = mpsc::channel::<Job>(self.inner.config.queue_size.max(1));
            let worker = ActionWorker { engine: self.clone(), action: Arc::new(action.clone()) };
            self.inner.tracker.spawn(worker.run(rx));
            lanes.push(Lane::Queued {
                tx,
                aws_name: action.aws_name(),
                resource: action_resource(action),
            });
        }
        let cancel = self.inner.shutdown.child_token();
        self.inner.running.lock().insert(name.to_owned(), cancel.clone());
        let task = RuleTask {
            engine: self.clone(),
            name: name.to_owned(),
            spec,
            error_action,
            lanes,
            client,
        };
        self.inner.tracker.spawn(task.run(cancel));
        tracing::debug!(rule = name, "rule started");
    }

    fn input<'a>(&'a self, ctx: &'a MessageCtx) -> Input<'a> {
        let properties = &ctx.message.properties;
        Input {
            payload: &ctx.message.payload,
            topic: &ctx.topic,
            client_id: ctx.message.publisher.as_deref(),
            principal: ctx.message.principal.as_deref(),
            timestamp_ms: ctx.timestamp_ms,
            account_id: Some(&self.inner.config.account_id),
            source_ip: ctx.source_ip.as_deref(),
            mqtt: MqttProperties {
                payload_format_indicator: properties.payload_format_indicator,
                content_type: properties.content_type.as_deref(),
                response_topic: properties.response_topic.as_deref(),
                correlation_data: properties.correlation_data.as_deref(),
                user_properties: &properties.user_properties,
            },
        }
    }

    /// Runs `action` with retries; the error, if it still fails.
    async fn execute(
        &self,
        action: &ActionSpec,
        ctx: &MessageCtx,
        payload: &Bytes,
    ) -> Result<(), Failure> {
        let retries = self.inner.config.retries;
        let mut attempt = 0;
        loop {
            let result = match action {
                ActionSpec::Republish(spec) => self.republish(spec, ctx, payload),
                ActionSpec::Http(spec) => self.http(spec, ctx, payload).await,
                ActionSpec::S3(spec) => self.s3(spec, ctx, payload).await,
            };
            match result {
                Ok(()) => return Ok(()),
                Err((resource, message)) if attempt >= retries => {
                    return Err(Failure {
                        failed_action: action.aws_name().to_owned(),
                        failed_resource: resource,
                        error_message: message,
                    });
                }
                Err(_) => {
                    let backoff = 100u64.saturating_mul(1 << attempt.min(10));
                    tokio::time::sleep(Duration::from_millis(backoff)).await;
                    attempt += 1;
                }
            }
        }
    }

    /// Sends `failure` to the rule's error action, if it has one, without waiting.
    fn fail(&self, ctx: &Arc<MessageCtx>, failure: Failure) {
        tracing::warn!(
            rule = ctx.rule,
            action = failure.failed_action,
            resource = failure.failed_resource,
            error = failure.error_message,
            "rule action failed"
        );
        let Some(error_action) = ctx.error_action.clone() else { return };
        let Ok(permit) = Arc::clone(&self.inner.error_permits).try_acquire_owned() else {
            tracing::error!(rule = ctx.rule, "too many error actions waiting; one dropped");
            return;
        };
        let payload = ErrorPayload::new(
            &ctx.rule,
            ctx.message.topic.as_str(),
            &ctx.trace_id,
            ctx.message.publisher.as_deref(),
            &ctx.message.payload,
            vec![failure],
        );
        let engine = self.clone();
        let ctx = Arc::clone(ctx);
        self.inner.tracker.spawn(async move {
            let _permit = permit;
            engine.inner.counters.error_actions.fetch_add(1, Ordering::Relaxed);
            let bytes = Bytes::from(payload.to_bytes());
            if let Err(failure) = engine.execute(&error_action, &ctx, &bytes).await {
                tracing::error!(
                    rule = ctx.rule,
                    action = failure.failed_action,
                    error = failure.error_message,
                    "error action failed"
                );
            }
        });
    }

    fn republish(
        &self,
        spec: &RepublishSpec,
        ctx: &MessageCtx,
        payload: &Bytes,
    ) -> Result<(), (String, String)> {
        let env = RuleEnv { trace_id: &ctx.trace_id, shadows: None };
        let input = self.input(ctx);
        let topic = spec.topic.render(&input, &env);
        let fail = |m: String| (topic.clone(), m);
        if is_job_topic(&topic) {
            return Err(fail("Republishing to a reserved job topic is not allowed".into()));
        }
        let name = TopicName::new(&topic).map_err(|e| fail(format!("Invalid topic: {e}")))?;
        let mut message = Message::new(
            name,
            payload.clone(),
            self.inner.broker.grant(if spec.qos == 1 { QoS::AtLeastOnce } else { QoS::AtMostOnce }),
            false,
        );
        let h = &spec.headers;
        let render =
            |t: &Option<crate::template::Template>| t.as_ref().map(|t| t.render(&input, &env));
        let properties = &mut message.properties;
        if let Some(pfi) = render(&h.payload_format_indicator) {
            properties.payload_format_indicator = match pfi.as_str() {
                "UNSPECIFIED_BYTES" => Some(0),
                "UTF8_DATA" => Some(1),
                other => return Err(fail(format!("Invalid payloadFormatIndicator '{other}'"))),
            };
        }
        properties.content_type = render(&h.content_type).filter(|s| !s.is_empty());
        if let Some(response) = render(&h.response_topic).filter(|s| !s.is_empty()) {
            TopicName::new(&response).map_err(|e| fail(format!("Invalid responseTopic: {e}")))?;
            properties.response_topic = Some(response);
        }
        if let Some(data) = render(&h.correlation_data).filter(|s| !s.is_empty()) {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(data.as_bytes())
                .map_err(|_| fail("correlationData is not base64".into()))?;
            properties.correlation_data = Some(Bytes::from(bytes));
        }
        if let Some(expiry) = render(&h.message_expiry).filter(|s| !s.is_empty()) {
            let seconds: u32 =
                expiry.parse().map_err(|_| fail(format!("Invalid messageExpiry '{expiry}'")))?;
            message.expires_at_ms = Some(now_ms().saturating_add(u64::from(seconds) * 1000));
        }
        for (key, value) in &h.user_properties {
            message
                .properties
                .user_properties
                .push((key.render(&input, &env), value.render(&input, &env)));
        }
        self.inner.publisher.publish(message);
        Ok(())
    }

    async fn http(
        &self,
        spec: &HttpSpec,
        ctx: &MessageCtx,
        payload: &Bytes,
    ) -> Result<(), (String, String)> {
        let (url, headers) = {
            let env = RuleEnv { trace_id: &ctx.trace_id, shadows: None };
            let input = self.input(ctx);
            let url = spec.url.render(&input, &env);
            let headers: Vec<(String, String)> =
                spec.headers.iter().map(|(k, v)| (k.clone(), v.render(&input, &env))).collect();
            (url, headers)
        };
        let fail = |m: String| (url.clone(), m);
        let key = spec.confirmation_url.clone().unwrap_or_else(|| url.clone());
        let enabled = self
            .inner
            .destinations
            .read()
            .iter()
            .find(|d| key.starts_with(&d.url))
            .map(|d| d.status);
        match enabled {
            Some(DestinationStatus::Enabled) => {}
            Some(status) => {
                return Err(fail(format!("The topic rule destination is {}", status.as_str())));
            }
            None => return Err(fail("No topic rule destination matches the URL".into())),
        }
        let http = self.inner.http.as_ref().ok_or_else(|| fail("No HTTP client".into()))?;
        let mut request = http.post(&url).body(payload.clone());
        for (k, v) in headers {
            request = request.header(k, v);
        }
        match request.send().await {
            Ok(response) if response.status().is_success() => Ok(()),
            Ok(response) => Err(fail(format!("The endpoint answered {}", response.status()))),
            Err(error) => Err(fail(format!("The request failed: {error}"))),
        }
    }

    async fn s3(
        &self,
        spec: &S3Spec,
        ctx: &MessageCtx,
        payload: &Bytes,
    ) -> Result<(), (String, String)> {
        let key = {
            let env = RuleEnv { trace_id: &ctx.trace_id, shadows: None };
            spec.key.render(&self.input(ctx), &env)
        };
        let fail = |m: String| (spec.bucket.clone(), m);
        let path = object_store::path::Path::parse(&key)
            .map_err(|e| fail(format!("Invalid key '{key}': {e}")))?;
        if path.as_ref().is_empty() {
            return Err(fail("The key is empty".into()));
        }
        let store = self.bucket(&spec.bucket).map_err(fail)?;
        store
            .put(&path, payload.clone().into())
            .await
            .map(|_| ())
            .map_err(|e| fail(format!("Failed to put S3 object: {e}")))
    }

    fn bucket(&self, bucket: &str) -> Result<Arc<dyn ObjectStore>, String> {
        if let Some(store) = self.inner.buckets.lock().get(bucket) {
            return Ok(Arc::clone(store));
        }
        let config = &self.inner.config;
        let store: Arc<dyn ObjectStore> = match &config.s3_endpoint {
            Some(endpoint) => Arc::new(
                object_store::aws::AmazonS3Builder::from_env()
                    .with_endpoint(endpoint)
                    .with_allow_http(true)
                    .with_region(&config.region)
                    .with_bucket_name(bucket)
                    .build()
                    .map_err(|e| format!("S3 endpoint: {e}"))?,
            ),
            None => {
                let dir = config.s3_dir.join(bucket);
                std::fs::create_dir_all(&dir)
                    .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
                Arc::new(
                    object_store::local::LocalFileSystem::new_with_prefix(&dir)
                        .map_err(|e| format!("bucket directory: {e}"))?,
                )
            }
        };
        self.inner.buckets.lock().insert(bucket.to_owned(), Arc::clone(&store));
        Ok(store)
    }
}

fn action_resource(action: &ActionSpec) -> String {
    match action {
        ActionSpec::Republish(r) => r.topic.literal_prefix().to_owned(),
        ActionSpec::Http(h) => h.url_text.clone(),
        ActionSpec::S3(s) => s.bucket.clone(),
    }
}

fn not_found(name: &str) -> RulesError {
    RulesError::RuleNotFound(format!("Rule {name} does not exist"))
}

fn destination_not_found(arn: &str) -> RulesError {
    RulesError::DestinationNotFound(format!("Topic rule destination {arn} does not exist"))
}

fn new_token() -> String {
    let bytes: [u8; 32] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// What SQL asks of the outside world while a rule runs.
struct RuleEnv<'a> {
    trace_id: &'a str,
    /// The shadow service and a runtime handle to wait on it: only on a blocking thread.
    shadows: Option<(&'a ShadowService, tokio::runtime::Handle)>,
}

impl Env for RuleEnv<'_> {
    fn rand(&self) -> f64 {
        rand::random::<f64>()
    }

    fn new_uuid(&self) -> String {
        uuid::Uuid::new_v4().to_string()
    }

    fn trace_id(&self) -> String {
        self.trace_id.to_owned()
    }

    fn thing_shadow(
        &self,
        thing: &str,
        shadow: Option<&str>,
        _role_arn: &str,
    ) -> Result<Option<serde_json::Value>, String> {
        let Some((service, handle)) = &self.shadows else {
            return Err("get_thing_shadow is not available here".into());
        };
        let id = ShadowId::new(thing, shadow).map_err(|e| e.message.clone())?;
        match handle.block_on(service.get(&id, b"{}")) {
            Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| e.to_string()),
            Err(error) if error.code == 404 => Ok(None),
            Err(error) => Err(error.message),
        }
    }
}

/// One enabled rule: receives its messages, evaluates its SQL once per message, and queues
/// the actions.
struct RuleTask {
    engine: RulesEngine,
    name: String,
    spec: RuleSpec,
    error_action: Option<Arc<ActionSpec>>,
    /// How each action runs.
    lanes: Vec<Lane>,
    client: InternalClient,
}

impl RuleTask {
    async fn run(self, cancel: CancellationToken) {
        let ingest_prefix = format!("$aws/rules/{}/", self.name);
        let uses_shadow = self.spec.uses_shadow() && self.engine.inner.shadows.is_some();
        loop {
            let delivery = tokio::select! {
                biased;
                () = cancel.cancelled() => break,
                delivery = self.client.recv() => delivery,
            };
            let message = delivery.message;
            let topic = message.topic.as_str();
            let sql_topic = match topic.strip_prefix(&ingest_prefix) {
                Some(rest) => rest.to_owned(),
                // Basic Ingest for another rule (through a wide FROM filter): not ours.
                None if topic.starts_with("$aws/rules/") => continue,
                None => topic.to_owned(),
            };
            let ctx = Arc::new(MessageCtx {
                rule: self.name.clone(),
                message: Arc::clone(&message),
                topic: sql_topic,
                trace_id: uuid::Uuid::new_v4().to_string(),
                timestamp_ms: now_i64(),
                source_ip: message.source_ip.map(|ip| ip.to_string()),
                error_action: self.error_action.clone(),
            });
            let output = if uses_shadow {
                self.evaluate_blocking(Arc::clone(&ctx)).await
            } else {
                let env = RuleEnv { trace_id: &ctx.trace_id, shadows: None };
                self.spec
                    .statement
                    .evaluate(&self.engine.input(&ctx), &env)
                    .map_err(|e| e.to_string())
            };
            let output = match output {
                Ok(Some(output)) => output,
                Ok(None) => continue,
                Err(error) => {
                    self.engine.fail(
                        &ctx,
                        Failure {
                            failed_action: "RuleEvaluation".into(),
                            failed_resource: self.name.clone(),
                            error_message: error,
                        },
                    );
                    continue;
                }
            };
            self.engine.inner.counters.matched.fetch_add(1, Ordering::Relaxed);
            let payload = Bytes::from(output.to_bytes());
            for lane in &self.lanes {
                let (queue, aws_name, resource) = match lane {
                    Lane::Inline(republish) => {
                        let counters = &self.engine.inner.counters;
                        match self.engine.republish(republish, &ctx, &payload) {
                            Ok(()) => {
                                counters.actions_ok.fetch_add(1, Ordering::Relaxed);
                            }
                            Err((resource, message)) => {
                                counters.actions_failed.fetch_add(1, Ordering::Relaxed);
                                self.engine.fail(
                                    &ctx,
                                    Failure {
                                        failed_action: "RepublishAction".into(),
                                        failed_resource: resource,
                                        error_message: message,
                                    },
                                );
                            }
                        }
                        continue;
                    }
                    Lane::Queued { tx, aws_name, resource } => (tx, aws_name, resource),
                };
                let job = Job { ctx: Arc::clone(&ctx), payload: payload.clone() };
                match queue.try_send(job) {
                    Ok(()) => {}
                    Err(mpsc::error::TrySendError::Full(_)) => {
                        let dropped =
                            self.engine.inner.counters.overflow.fetch_add(1, Ordering::Relaxed) + 1;
                        if dropped.is_power_of_two() {
                            tracing::warn!(rule = self.name, dropped, "action queue full");
                        }
                        self.engine.fail(
                            &ctx,
                            Failure {
                                failed_action: (*aws_name).to_owned(),
                                failed_resource: resource.clone(),
                                error_message: "The action's queue is full: message dropped".into(),
                            },
                        );
                    }
                    Err(mpsc::error::TrySendError::Closed(_)) => {}
                }
            }
        }
        tracing::debug!(rule = self.name, "rule stopped");
    }

    /// Evaluates on a blocking thread, where `get_thing_shadow` may wait for the service.
    async fn evaluate_blocking(&self, ctx: Arc<MessageCtx>) -> Result<Option<Output>, String> {
        let engine = self.engine.clone();
        let statement = Arc::clone(&self.spec.statement);
        let handle = tokio::runtime::Handle::current();
        let joined = tokio::task::spawn_blocking(move || {
            let shadows = engine.inner.shadows.as_ref().map(|s| (s, handle));
            let env = RuleEnv { trace_id: &ctx.trace_id, shadows };
            statement.evaluate(&engine.input(&ctx), &env).map_err(|e| e.to_string())
        })
        .await;
        joined.unwrap_or_else(|e| Err(format!("evaluation failed: {e}")))
    }
}

/// How a rule runs one of its actions.
enum Lane {
    /// Republish: in the rule task (a broker publish never waits), without retries (its
    /// failures, such as a template that renders an invalid topic, would fail again).
    Inline(RepublishSpec),
    /// HTTP and S3: through a bounded queue to a worker.
    Queued {
        /// The queue.
        tx: mpsc::Sender<Job>,
        /// AWS's action name, for overflow failures.
        aws_name: &'static str,
        /// The action's resource, for overflow failures.
        resource: String,
    },
}

/// Runs one action's queue: HTTP and S3 up to `concurrency` at once.
struct ActionWorker {
    engine: RulesEngine,
    action: Arc<ActionSpec>,
}

impl ActionWorker {
    async fn run(self, mut jobs: mpsc::Receiver<Job>) {
        let limit = Arc::new(Semaphore::new(self.engine.inner.config.concurrency.max(1)));
        while let Some(job) = jobs.recv().await {
            let Ok(permit) = Arc::clone(&limit).acquire_owned().await else { break };
            let engine = self.engine.clone();
            let action = Arc::clone(&self.action);
            self.engine.inner.tracker.spawn(async move {
                let _permit = permit;
                let result = engine.execute(&action, &job.ctx, &job.payload).await;
                ActionWorker { engine, action }.finish(&job, result);
            });
        }
    }

    fn finish(&self, job: &Job, result: Result<(), Failure>) {
        let counters = &self.engine.inner.counters;
        match result {
            Ok(()) => {
                counters.actions_ok.fetch_add(1, Ordering::Relaxed);
            }
            Err(failure) => {
                counters.actions_failed.fetch_add(1, Ordering::Relaxed);
                self.engine.fail(&job.ctx, failure);
            }
        }
    }
}
