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
        /// The IoT policy that limits the key on the data plane, if it was given one.
        policy: Option<String>,
    },
    /// A device that presented a registered, ACTIVE X.509 certificate in the TLS handshake
    /// (the data plane on the HTTPS port, as AWS IoT Core's port 8443); IoT policies decide
    /// what it may do.
    Certificate {
        /// The certificate id (hex SHA-256 of its DER).
        id: String,
        /// The certificate's ARN, the principal its policies are attached to.
        arn: String,
    },
}
