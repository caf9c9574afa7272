//! Change notices: how live connections learn that a registry change may alter what they are
//! allowed to do.
//!
//! Every committed change that can alter an authorization decision bumps one epoch counter
//! (connections cache decisions per epoch and drop the cache when it moves) and is broadcast
//! (a certificate that is no longer ACTIVE must lose its connections at once). Notices are sent
//! only after the change's transaction has committed.

use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::broadcast;

/// What changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A device certificate's status changed, or it was deleted: connections authenticated by
    /// it must be checked again.
    Certificate {
        /// The certificate id (hex SHA-256 of its DER).
        id: String,
    },
    /// A CA certificate's status changed, or it was deleted: connections with certificates it
    /// issued must be checked again.
    CaCertificate {
        /// The CA certificate id.
        id: String,
    },
    /// Policies, policy versions, attachments, thing principals, group membership or thing
    /// attributes changed: cached decisions are stale.
    Authorization,
}

/// The epoch counter and the broadcast of [`Change`]s.
#[derive(Debug)]
pub(crate) struct Changes {
    epoch: AtomicU64,
    sender: broadcast::Sender<Change>,
}

impl Changes {
    pub(crate) fn new() -> Changes {
        // Receivers that fall behind see `Lagged` and must re-check everything they hold.
        let (sender, _) = broadcast::channel(1024);
        Changes { epoch: AtomicU64::new(0), sender }
    }

    /// Records a committed change.
    pub(crate) fn notify(&self, change: Change) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        // No receiver is fine: nobody is connected.
        let _ = self.sender.send(change);
    }

    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.sender.subscribe()
    }
}
