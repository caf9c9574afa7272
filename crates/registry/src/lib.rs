//! The registry of AWS IoT Core: things, thing types, static thing groups (with membership)
//! and the tags on them, with the rules of botocore's `iot` model and of AWS IoT Core, persisted
//! in the store.
//!
//! - [`rules`] and [`arn`] are pure: name patterns, attribute merge, limits, versions, ARNs.
//! - [`Registry`] holds the operations. Every change runs as one [`Store::execute`] closure on
//!   the writer thread: it reads, checks and writes in one transaction, so two concurrent
//!   requests cannot both pass a check (such as `expectedVersion`), and a failed check
//!   changes nothing. Reads use the store's read connection.
//!
//! ```text
//! api handler --> Registry::update_thing(..) --> Store::execute(|tx| read, check, write)
//!                                             <-- Ok(version) once the commit is durable
//! ```
//!
//! It owns the registry's tables (`things`, `thing_types`, `thing_groups`,
//! `thing_group_members`, `tags`, and `policies`, `policy_versions`, `policy_attachments`,
//! `thing_principals`, `certificates`, `ca_certificates`, `settings`; created by the store's
//! migrations) and must not touch any
//! other table, nor HTTP, JSON shapes of the API or AWS error names (the `api` crate maps
//! [`RegistryError`] to those).

pub mod arn;
pub mod certificate_rules;
pub mod events;
pub mod policy_rules;
pub mod rules;

mod attachments;
mod ca_certificates;
mod certificates;
mod changes;
mod error;
mod policies;
mod principals;
mod tags;
mod thing_groups;
mod thing_types;
mod things;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_certificates;
#[cfg(test)]
mod tests_policies;

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use ferrocore_store::Store;

pub use arn::{Arns, ResourceKind};
pub use attachments::EffectivePolicy;
pub use ca_certificates::{
    CaCertificate, CaCertificateUpdate, NewCaCertificate, RegistrationConfig,
};
pub use certificate_rules::{
    AutoRegistrationStatus, CaCertificateStatus, CertificateMode, CertificateStatus,
};
pub use certificates::Certificate;
pub use changes::Change;
pub use error::RegistryError;
pub use policies::{Policy, PolicyRef, PolicyVersion};
pub use policy_rules::ThingPrincipalType;
pub use principals::ThingPrincipal;
pub use rules::Attributes;
pub use tags::Tag;
pub use thing_groups::{GroupListFilter, GroupRef, NewThingGroup, ThingGroup, ThingGroupUpdate};
pub use thing_types::{NewThingType, PropagatingAttribute, ThingType, ThingTypeProperties};
pub use things::{NewThing, Thing, ThingFilter, ThingUpdate};

/// The registry: operations on things, thing types, thing groups and tags.
#[derive(Debug, Clone)]
pub struct Registry {
    store: Store,
    arns: Arns,
    changes: Arc<changes::Changes>,
    events: events::Events,
}

impl Registry {
    /// The registry in `store`, naming resources with `arns`' region and account.
    pub fn new(store: Store, arns: Arns) -> Registry {
        Registry {
            store,
            arns,
            changes: Arc::new(changes::Changes::new()),
            events: events::Events::new(),
        }
    }

    /// The region and account of ARNs.
    pub fn arns(&self) -> &Arns {
        &self.arns
    }

    /// A counter that moves whenever a committed change may alter an authorization decision:
    /// decisions cached under one epoch are stale under the next.
    pub fn epoch(&self) -> u64 {
        self.changes.epoch()
    }

    /// Notices of committed changes, for live connections (see [`Change`]).
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Change> {
        self.changes.subscribe()
    }

    /// Records a committed change: call it after the change's transaction has committed.
    pub(crate) fn notify(&self, change: Change) {
        self.changes.notify(change);
    }

    /// Runs `f` in a write transaction and, once it has committed, records that authorization
    /// decisions may have changed (policies, attachments, thing principals).
    pub(crate) async fn write_authorization<R, F>(&self, f: F) -> Result<R, RegistryError>
    where
        F: FnOnce(&ferrocore_store::rusqlite::Transaction<'_>) -> Result<R, RegistryError>
            + Send
            + 'static,
        R: Send + 'static,
    {
        let written = self.store.execute(f).await?;
        self.notify(Change::Authorization);
        Ok(written)
    }
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// The items, in key order.
    pub items: Vec<T>,
    /// The key of the last item when more follow: pass it as `after` for the next page.
    pub next: Option<String>,
}

impl<T> Page<T> {
    /// A page from up to `limit + 1` rows: the extra row only says that more follow.
    pub(crate) fn from_rows(mut rows: Vec<T>, limit: usize, key: impl Fn(&T) -> String) -> Page<T> {
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next = if more { rows.last().map(key) } else { None };
        Page { items: rows, next }
    }
}

/// Milliseconds since the Unix epoch, now.
pub(crate) fn now_ms() -> i64 {
    let ms = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_millis();
    i64::try_from(ms).unwrap_or(i64::MAX)
}
