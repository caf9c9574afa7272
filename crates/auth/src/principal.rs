//! [`Principal`]: who a request comes from, once authenticated.

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Principal {
    /// A request signed with an access key (SigV4).
    AccessKey {
        /// The access key id.
        id: String,
        /// Whether the key may use the control plane.
        admin: bool,
    },
}
