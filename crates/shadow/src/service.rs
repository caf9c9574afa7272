//! The shadow service: an internal client of the broker that answers shadow requests, and
//! the Rust API the REST data plane calls. Both reach the same per-shadow worker, so an MQTT
//! request and a REST call produce the same changes and the same messages.
//!
//! # Concurrency
//!
//! A dispatcher task receives requests (MQTT deliveries on the request topics, and API calls)
//! and hands each to the worker task of its shadow, spawning one when the shadow has none.
//! A worker handles its shadow's requests one at a time, in arrival order: read, apply
//! (pure, [`crate::document`]), write and publish. So updates to one shadow never race
//! (dense versions, no lost update) and their answers go out in version order, while
//! different shadows proceed in parallel. Writes run as one [`Store::execute`] closure
//! (read, apply, write in one transaction on the writer thread), and answers are published
//! only once that commit is durable: `/accepted`, then `/delta`, then `/documents`.
//!
//! Idle workers are dropped by the dispatcher when its map doubles in size: a worker whose
//! pending count is zero has finished every request it was given.
//!
//! ```text
//! device --$aws/things/t/shadow/update--> broker --> InternalClient --> dispatcher
//! REST (later) --ShadowService::update--------------------------------> dispatcher
//!     dispatcher --(per shadow, FIFO)--> worker: Store::execute(read, apply, write)
//!     worker --accepted/delta/documents (or rejected)--> broker --> subscribers
//! ```

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use ferrocore_broker::{Broker, InternalClient, Message, now_ms};
use ferrocore_mqtt::{QoS, TopicName};
use ferrocore_store::{Store, StoreError};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::document::{self, Stored, UpdateOutcome};
use crate::error::ShadowError;
use crate::name::{Operation, RequestTopic, ShadowId, valid_shadow_name, valid_thing_name};
use crate::persist;

/// The request topics the service subscribes to (and only those: its own answers must not
/// come back to it).
pub const REQUEST_FILTERS: [&str; 6] = [
    "$aws/things/+/shadow/get",
    "$aws/things/+/shadow/update",
    "$aws/things/+/shadow/delete",
    "$aws/things/+/shadow/name/+/get",
    "$aws/things/+/shadow/name/+/update",
    "$aws/things/+/shadow/name/+/delete",
];

/// The largest page of [`ShadowService::list_named_shadows`] (AWS's `pageSize` 1..100).
pub const MAX_PAGE_SIZE: usize = 100;

/// A page of named shadow names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedShadowPage {
    /// The names, in order.
    pub results: Vec<String>,
    /// Pass this as `next_token` for the next page; `None` on the last page.
    pub next_token: Option<String>,
}

/// A handle to the running shadow service. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ShadowService {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    api: mpsc::UnboundedSender<Job>,
    store: Store,
    shutdown: CancellationToken,
    tracker: TaskTracker,
}

/// One request on its way to its shadow's worker.
#[derive(Debug)]
struct Job {
    id: ShadowId,
    operation: Operation,
    payload: Bytes,
    reply: Reply,
}

/// Where the answer goes.
#[derive(Debug)]
enum Reply {
    /// Over MQTT: `/accepted` or `/rejected` under the shadow's prefix.
    Mqtt,
    /// To an API caller, who gets the accepted payload or the error.
    Api(oneshot::Sender<Result<Vec<u8>, ShadowError>>),
}

/// Why a write closure did not commit.
enum Fail {
    Rejected(ShadowError),
    Store(StoreError),
}

impl From<StoreError> for Fail {
    fn from(error: StoreError) -> Fail {
        Fail::Store(error)
    }
}

impl ShadowService {
    /// Attaches to `broker` as the internal client `shadow`, subscribes to the request topics
    /// and starts serving. Must be called within a Tokio runtime.
    pub fn start(broker: &Broker, store: Store) -> ShadowService {
        let client = InternalClient::new(broker, "$shadow");
        for filter in REQUEST_FILTERS {
            if let Err(error) = client.subscribe(filter, QoS::AtLeastOnce) {
                // The filters are constants: this is our bug, not input.
                tracing::error!(%error, filter, "shadow service cannot subscribe");
            }
        }
        let (api, api_rx) = mpsc::unbounded_channel();
        let shutdown = CancellationToken::new();
        let tracker = TaskTracker::new();
        let dispatcher = Dispatcher {
            client: Arc::new(client),
            store: store.clone(),
            tracker: tracker.clone(),
            workers: HashMap::new(),
            clean_at: 64,
        };
        tracker.spawn(dispatcher.run(api_rx, shutdown.clone()));
        tracing::info!("shadow service started");
        ShadowService { inner: Arc::new(Inner { api, store, shutdown, tracker }) }
    }

    /// GetThingShadow: the full document, as `/get/accepted` carries it.
    pub async fn get(&self, id: &ShadowId, payload: &[u8]) -> Result<Vec<u8>, ShadowError> {
        self.call(id, Operation::Get, payload).await
    }

    /// UpdateThingShadow: applies `payload` (a request state document) and returns the
    /// `/update/accepted` document; `/update/delta` and `/update/documents` are published.
    pub async fn update(&self, id: &ShadowId, payload: &[u8]) -> Result<Vec<u8>, ShadowError> {
        self.call(id, Operation::Update, payload).await
    }

    /// DeleteThingShadow: returns `{"version","timestamp"}`.
    pub async fn delete(&self, id: &ShadowId, payload: &[u8]) -> Result<Vec<u8>, ShadowError> {
        self.call(id, Operation::Delete, payload).await
    }

    async fn call(
        &self,
        id: &ShadowId,
        operation: Operation,
        payload: &[u8],
    ) -> Result<Vec<u8>, ShadowError> {
        let (tx, rx) = oneshot::channel();
        let job = Job {
            id: id.clone(),
            operation,
            payload: Bytes::copy_from_slice(payload),
            reply: Reply::Api(tx),
        };
        if self.inner.api.send(job).is_err() {
            return Err(ShadowError::internal());
        }
        rx.await.unwrap_or_else(|_| Err(ShadowError::internal()))
    }

    /// ListNamedShadowsForThing: the names of `thing`'s named shadows (the classic shadow is
    /// not listed), `page_size` (clamped to 1..=100) at a time, after `next_token`.
    pub async fn list_named_shadows(
        &self,
        thing: &str,
        next_token: Option<&str>,
        page_size: usize,
    ) -> Result<NamedShadowPage, ShadowError> {
        if !valid_thing_name(thing) {
            return Err(ShadowError::invalid_name("thing name"));
        }
        let after = next_token.unwrap_or("").to_owned();
        if !after.is_empty() && !valid_shadow_name(&after) {
            return Err(ShadowError::invalid_name("nextToken"));
        }
        let limit = page_size.clamp(1, MAX_PAGE_SIZE);
        let store = self.inner.store.clone();
        let thing = thing.to_owned();
        let read = tokio::task::spawn_blocking(move || {
            store.read(|tx| persist::list_named(tx, &thing, &after, limit + 1))
        });
        let mut results = match read.await {
            Ok(Ok(names)) => names,
            Ok(Err(error)) => return Err(internal(&error)),
            Err(_) => return Err(ShadowError::internal()),
        };
        let next_token = if results.len() > limit {
            results.truncate(limit);
            results.last().cloned()
        } else {
            None
        };
        Ok(NamedShadowPage { results, next_token })
    }

    /// Stops taking requests without waiting: the workers finish what they were given in the
    /// background. For error paths that cannot await [`ShadowService::stop`].
    pub fn cancel(&self) {
        self.inner.shutdown.cancel();
    }

    /// Stops taking requests, lets the workers finish what they were given, and waits for
    /// them. Call before closing the store.
    pub async fn stop(&self) {
        self.inner.shutdown.cancel();
        self.inner.tracker.close();
        self.inner.tracker.wait().await;
        tracing::info!("shadow service stopped");
    }
}

fn internal(error: &StoreError) -> ShadowError {
    tracing::error!(%error, "shadow store failure");
    ShadowError::internal()
}

fn now_secs() -> u64 {
    now_ms() / 1000
}

/// A worker's queue and how many of its jobs are not finished yet.
struct WorkerHandle {
    jobs: mpsc::UnboundedSender<Job>,
    pending: Arc<AtomicUsize>,
}

struct Dispatcher {
    client: Arc<InternalClient>,
    store: Store,
    tracker: TaskTracker,
    workers: HashMap<ShadowId, WorkerHandle>,
    /// Drop idle workers when the map reaches this size.
    clean_at: usize,
}

impl Dispatcher {
    async fn run(mut self, mut api: mpsc::UnboundedReceiver<Job>, shutdown: CancellationToken) {
        loop {
            let job = tokio::select! {
                biased;
                () = shutdown.cancelled() => break,
                delivery = self.client.recv() => {
                    match self.job_for(&delivery.message) {
                        Some(job) => job,
                        None => continue,
                    }
                }
                Some(job) = api.recv() => job,
            };
            self.route(job);
        }
        // Dropping the senders lets each worker finish its queue and exit.
        self.workers.clear();
    }

    /// The job for a request published by a client; an invalid name is answered here.
    fn job_for(&self, message: &Message) -> Option<Job> {
        let topic = RequestTopic::parse(message.topic.as_str())?;
        match topic.id() {
            Ok(id) => Some(Job {
                id,
                operation: topic.operation,
                payload: message.payload.clone(),
                reply: Reply::Mqtt,
            }),
            Err(error) => {
                let token = match topic.operation {
                    Operation::Update => crate::request::parse_update(&message.payload)
                        .ok()
                        .and_then(|r| r.client_token),
                    _ => crate::request::parse_token_only(&message.payload).ok().flatten(),
                };
                let error = error.with_token(token);
                let reply = format!("{}/{}/rejected", topic.prefix, topic.operation.as_str());
                publish(&self.client, &reply, error.to_payload(now_secs()));
                None
            }
        }
    }

    fn route(&mut self, job: Job) {
        if let Some(worker) = self.workers.get(&job.id) {
            worker.pending.fetch_add(1, Ordering::AcqRel);
            match worker.jobs.send(job) {
                Ok(()) => return,
                Err(mpsc::error::SendError(job)) => {
                    // The worker is gone (it cannot be, while we hold its sender, unless it
                    // panicked): start a new one.
                    self.workers.remove(&job.id);
                    self.spawn(job);
                    return;
                }
            }
        }
        self.spawn(job);
    }

    fn spawn(&mut self, job: Job) {
        if self.workers.len() >= self.clean_at {
            self.workers.retain(|_, worker| worker.pending.load(Ordering::Acquire) > 0);
            self.clean_at = (self.workers.len() * 2).max(64);
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let pending = Arc::new(AtomicUsize::new(1));
        let id = job.id.clone();
        // The channel is open: we hold both ends.
        let _ = tx.send(job);
        let worker = Worker {
            client: Arc::clone(&self.client),
            store: self.store.clone(),
            pending: Arc::clone(&pending),
        };
        self.tracker.spawn(worker.run(rx));
        self.workers.insert(id, WorkerHandle { jobs: tx, pending });
    }
}

struct Worker {
    client: Arc<InternalClient>,
    store: Store,
    pending: Arc<AtomicUsize>,
}

impl Worker {
    async fn run(self, mut jobs: mpsc::UnboundedReceiver<Job>) {
        while let Some(job) = jobs.recv().await {
            self.handle(job).await;
            self.pending.fetch_sub(1, Ordering::AcqRel);
        }
    }

    async fn handle(&self, job: Job) {
        let Job { id, operation, payload, reply } = job;
        let now = now_secs();
        let prefix = id.topic_prefix();
        let op = operation.as_str();
        match operation {
            Operation::Get => {
                let result = match self.read(&id).await {
                    Ok(stored) => document::get(&stored, &payload, now, &id),
                    Err(error) => Err(error),
                };
                self.answer(&prefix, op, reply, result, now);
            }
            Operation::Delete => {
                let result = self
                    .write(&id, now, move |stored, id| document::delete(stored, &payload, now, id))
                    .await;
                self.answer(&prefix, op, reply, result, now);
            }
            Operation::Update => {
                let result = self
                    .write(&id, now, move |stored, _| {
                        let outcome = document::apply_update(stored, &payload, now)?;
                        Ok((Stored::Live(outcome.record.clone()), outcome))
                    })
                    .await;
                match result {
                    Ok(outcome) => self.updated(&prefix, reply, outcome),
                    Err(error) => self.answer(&prefix, op, reply, Err(error), now),
                }
            }
        }
    }

    /// Publishes an accepted update's messages, in AWS's order.
    fn updated(&self, prefix: &str, reply: Reply, outcome: UpdateOutcome) {
        let UpdateOutcome { accepted, delta, documents, .. } = outcome;
        let api = match reply {
            Reply::Mqtt => {
                publish(&self.client, &format!("{prefix}/update/accepted"), accepted.clone());
                None
            }
            Reply::Api(tx) => Some(tx),
        };
        if let Some(delta) = delta {
            publish(&self.client, &format!("{prefix}/update/delta"), delta);
        }
        publish(&self.client, &format!("{prefix}/update/documents"), documents);
        if let Some(tx) = api {
            let _ = tx.send(Ok(accepted));
        }
    }

    /// Answers a get or delete, or any rejection.
    fn answer(
        &self,
        prefix: &str,
        op: &str,
        reply: Reply,
        result: Result<Vec<u8>, ShadowError>,
        now: u64,
    ) {
        match reply {
            Reply::Api(tx) => {
                let _ = tx.send(result);
            }
            Reply::Mqtt => match result {
                Ok(payload) => publish(&self.client, &format!("{prefix}/{op}/accepted"), payload),
                Err(error) => {
                    publish(&self.client, &format!("{prefix}/{op}/rejected"), error.to_payload(now))
                }
            },
        }
    }

    /// Reads what is stored for `id`, off the async threads.
    async fn read(&self, id: &ShadowId) -> Result<Stored, ShadowError> {
        let store = self.store.clone();
        let key = id.clone();
        match tokio::task::spawn_blocking(move || store.read(|tx| persist::load(tx, &key))).await {
            Ok(Ok(stored)) => Ok(stored),
            Ok(Err(error)) => Err(internal(&error)),
            Err(_) => Err(ShadowError::internal()),
        }
    }

    /// Runs `change` on what is stored for `id` inside one store transaction, writes the new
    /// value, and resolves once it is durable.
    async fn write<T: Send + 'static>(
        &self,
        id: &ShadowId,
        now: u64,
        change: impl FnOnce(&Stored, &ShadowId) -> Result<(Stored, T), ShadowError> + Send + 'static,
    ) -> Result<T, ShadowError> {
        let id = id.clone();
        let result = self
            .store
            .execute(move |tx| {
                let stored = persist::load(tx, &id)?;
                let (next, value) = change(&stored, &id).map_err(Fail::Rejected)?;
                persist::save(tx, &id, &next, now)?;
                Ok::<T, Fail>(value)
            })
            .await;
        match result {
            Ok(value) => Ok(value),
            Err(Fail::Rejected(error)) => Err(error),
            Err(Fail::Store(error)) => Err(internal(&error)),
        }
    }
}

fn publish(client: &InternalClient, topic: &str, payload: Vec<u8>) {
    match TopicName::new(topic) {
        Ok(topic) => {
            client.publish(Message::new(topic, Bytes::from(payload), QoS::AtLeastOnce, false));
        }
        Err(error) => tracing::error!(%error, topic, "shadow answer has an invalid topic"),
    }
}
