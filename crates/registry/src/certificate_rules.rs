//! The rules of certificates and CA certificates, pure: statuses and the transitions AWS
//! allows, modes, what deletes require, ids, list markers.

use crate::error::{RegistryError, invalid};

/// A device certificate's status (botocore's `CertificateStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CertificateStatus {
    /// May connect.
    Active,
    /// Registered, may not connect.
    Inactive,
    /// Revoked: final.
    Revoked,
    /// Being transferred to another account.
    PendingTransfer,
    /// Deprecated: registered inactive.
    RegisterInactive,
    /// Registered by just-in-time registration, waiting to be activated.
    PendingActivation,
}

impl CertificateStatus {
    /// Every status.
    pub const ALL: [CertificateStatus; 6] = [
        Self::Active,
        Self::Inactive,
        Self::Revoked,
        Self::PendingTransfer,
        Self::RegisterInactive,
        Self::PendingActivation,
    ];

    /// The model's name, such as `ACTIVE`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "ACTIVE",
            Self::Inactive => "INACTIVE",
            Self::Revoked => "REVOKED",
            Self::PendingTransfer => "PENDING_TRANSFER",
            Self::RegisterInactive => "REGISTER_INACTIVE",
            Self::PendingActivation => "PENDING_ACTIVATION",
        }
    }

    /// The status named `name` (exact, as the model's enum).
    pub fn parse(name: &str) -> Result<CertificateStatus, RegistryError> {
        Self::ALL.into_iter().find(|s| s.as_str() == name).ok_or_else(|| {
            invalid(format!(
                "'{name}' is not a certificate status (ACTIVE, INACTIVE, REVOKED, \
                 PENDING_TRANSFER, REGISTER_INACTIVE, PENDING_ACTIVATION)"
            ))
        })
    }
}

/// A CA certificate's status (botocore's `CACertificateStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CaCertificateStatus {
    /// Certificates it signed may be registered and connect.
    Active,
    /// Disabled.
    Inactive,
}

impl CaCertificateStatus {
    /// The model's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "ACTIVE",
            Self::Inactive => "INACTIVE",
        }
    }

    /// The status named `name`.
    pub fn parse(name: &str) -> Result<CaCertificateStatus, RegistryError> {
        match name {
            "ACTIVE" => Ok(Self::Active),
            "INACTIVE" => Ok(Self::Inactive),
            _ => {
                Err(invalid(format!("'{name}' is not a CA certificate status (ACTIVE, INACTIVE)")))
            }
        }
    }
}

/// Whether a CA allows just-in-time registration (`AutoRegistrationStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AutoRegistrationStatus {
    /// Enabled.
    Enable,
    /// Disabled.
    Disable,
}

impl AutoRegistrationStatus {
    /// The model's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enable => "ENABLE",
            Self::Disable => "DISABLE",
        }
    }

    /// The value named `name`.
    pub fn parse(name: &str) -> Result<AutoRegistrationStatus, RegistryError> {
        match name {
            "ENABLE" => Ok(Self::Enable),
            "DISABLE" => Ok(Self::Disable),
            _ => Err(invalid(format!(
                "'{name}' is not an auto-registration status (ENABLE, DISABLE)"
            ))),
        }
    }
}

/// How devices present a certificate (`CertificateMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CertificateMode {
    /// Registered with its CA.
    Default,
    /// Registered without a CA; devices must send SNI.
    SniOnly,
}

impl CertificateMode {
    /// The model's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Default => "DEFAULT",
            Self::SniOnly => "SNI_ONLY",
        }
    }

    /// The mode named `name`.
    pub fn parse(name: &str) -> Result<CertificateMode, RegistryError> {
        match name {
            "DEFAULT" => Ok(Self::Default),
            "SNI_ONLY" => Ok(Self::SniOnly),
            _ => Err(invalid(format!("'{name}' is not a certificate mode (DEFAULT, SNI_ONLY)"))),
        }
    }
}

/// At most this many CA certificates may share one subject (AWS's quota).
pub const MAX_CAS_PER_SUBJECT: usize = 10;

/// Checks a certificate id: 64 hex digits (the model's `CertificateId`).
pub fn check_certificate_id(field: &str, id: &str) -> Result<(), RegistryError> {
    if id.len() != 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(invalid(format!(
            "{field} '{id}' is not a certificate id (64 hexadecimal digits)"
        )));
    }
    Ok(())
}

/// The status a certificate is registered with: `status` if given, else ACTIVE when
/// `set_as_active`, else INACTIVE. A registration cannot start a transfer.
pub fn registration_status(
    status: Option<CertificateStatus>,
    set_as_active: bool,
) -> Result<CertificateStatus, RegistryError> {
    match status {
        Some(CertificateStatus::PendingTransfer) => {
            Err(invalid("A certificate cannot be registered with status PENDING_TRANSFER"))
        }
        Some(status) => Ok(status),
        None if set_as_active => Ok(CertificateStatus::Active),
        None => Ok(CertificateStatus::Inactive),
    }
}

/// Checks UpdateCertificate's move from `current` to `new`. PENDING_TRANSFER and
/// PENDING_ACTIVATION cannot be set; a REVOKED certificate's status cannot change, nor can a
/// certificate's that is being transferred. Setting the current status is allowed.
pub fn check_update(
    id: &str,
    current: CertificateStatus,
    new: CertificateStatus,
) -> Result<(), RegistryError> {
    use CertificateStatus as S;
    if matches!(new, S::PendingTransfer | S::PendingActivation) {
        return Err(invalid(format!(
            "The status {} cannot be set with UpdateCertificate",
            new.as_str()
        )));
    }
    match current {
        S::Revoked if new != S::Revoked => Err(RegistryError::CertificateState(format!(
            "Certificate {id} is revoked: the status of a revoked certificate cannot be changed"
        ))),
        S::PendingTransfer => Err(RegistryError::CertificateState(format!(
            "Certificate {id} is pending transfer: its status cannot be changed"
        ))),
        _ => Ok(()),
    }
}

/// Checks DeleteCertificate against the status: an ACTIVE certificate must be deactivated
/// first, and a certificate being transferred cannot be deleted.
pub fn check_delete(id: &str, status: CertificateStatus) -> Result<(), RegistryError> {
    match status {
        CertificateStatus::Active => Err(RegistryError::CertificateState(format!(
            "Certificate {id} is ACTIVE: deactivate it (UpdateCertificate) before deleting it"
        ))),
        CertificateStatus::PendingTransfer => Err(RegistryError::CertificateState(format!(
            "Certificate {id} is pending transfer and cannot be deleted"
        ))),
        _ => Ok(()),
    }
}

/// What DeleteCertificate does about attachments: things always block; policies block unless
/// `force_delete` (they are then detached).
pub fn check_delete_attachments(
    id: &str,
    things: usize,
    policies: usize,
    force_delete: bool,
) -> Result<(), RegistryError> {
    if things > 0 {
        return Err(RegistryError::DeleteConflict(format!(
            "Certificate {id} is attached to {things} thing(s): detach it first"
        )));
    }
    if policies > 0 && !force_delete {
        return Err(RegistryError::DeleteConflict(format!(
            "Certificate {id} has {policies} policy(ies) attached: detach them or use forceDelete"
        )));
    }
    Ok(())
}

/// Checks DeleteCACertificate: the CA must be INACTIVE and no registered certificate may
/// name it as its CA.
pub fn check_ca_delete(
    id: &str,
    status: CaCertificateStatus,
    certificates: usize,
) -> Result<(), RegistryError> {
    if status == CaCertificateStatus::Active {
        return Err(RegistryError::CertificateState(format!(
            "CA certificate {id} is ACTIVE: deactivate it (UpdateCACertificate) before deleting it"
        )));
    }
    if certificates > 0 {
        return Err(RegistryError::CertificateState(format!(
            "CA certificate {id} still has {certificates} registered certificate(s) it signed: \
             delete them first"
        )));
    }
    Ok(())
}

/// A list position: the creation time and id of the last certificate of a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Marker<'a> {
    /// Creation time, ms.
    pub created_ms: i64,
    /// Certificate id.
    pub id: &'a str,
}

impl Marker<'_> {
    /// The opaque marker string.
    pub fn encode(created_ms: i64, id: &str) -> String {
        format!("{created_ms}-{id}")
    }

    /// Parses a marker from [`Marker::encode`].
    pub fn decode(marker: &str) -> Result<Marker<'_>, RegistryError> {
        let bad = || invalid(format!("'{marker}' is not a valid marker"));
        let (created, id) = marker.split_once('-').ok_or_else(bad)?;
        let created_ms = created.parse().map_err(|_| bad())?;
        check_certificate_id("marker", id).map_err(|_| bad())?;
        Ok(Marker { created_ms, id })
    }
}

/// A registration code: 64 lowercase hex digits from two random UUIDs.
pub fn new_registration_code() -> String {
    format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use CertificateStatus as S;

    #[test]
    fn statuses_round_trip_and_unknown_names_are_refused() {
        for status in S::ALL {
            assert_eq!(S::parse(status.as_str()).unwrap(), status);
        }
        assert!(S::parse("active").is_err());
        assert_eq!(CaCertificateStatus::parse("INACTIVE").unwrap(), CaCertificateStatus::Inactive);
        assert!(CaCertificateStatus::parse("REVOKED").is_err());
        assert_eq!(CertificateMode::parse("SNI_ONLY").unwrap().as_str(), "SNI_ONLY");
        assert!(AutoRegistrationStatus::parse("ENABLED").is_err());
    }

    #[test]
    fn registration_status_defaults_to_inactive_and_status_wins() {
        assert_eq!(registration_status(None, false).unwrap(), S::Inactive);
        assert_eq!(registration_status(None, true).unwrap(), S::Active);
        assert_eq!(registration_status(Some(S::Revoked), true).unwrap(), S::Revoked);
        assert!(registration_status(Some(S::PendingTransfer), false).is_err());
    }

    #[test]
    fn update_transitions_follow_aws() {
        assert!(check_update("c", S::Inactive, S::Active).is_ok());
        assert!(check_update("c", S::Active, S::Inactive).is_ok());
        assert!(check_update("c", S::Active, S::Revoked).is_ok());
        assert!(check_update("c", S::PendingActivation, S::Active).is_ok());
        assert!(check_update("c", S::Active, S::Active).is_ok());
        assert!(matches!(
            check_update("c", S::Revoked, S::Active),
            Err(RegistryError::CertificateState(_))
        ));
        assert!(matches!(
            check_update("c", S::PendingTransfer, S::Inactive),
            Err(RegistryError::CertificateState(_))
        ));
        for new in [S::PendingTransfer, S::PendingActivation] {
            assert!(matches!(
                check_update("c", S::Active, new),
                Err(RegistryError::InvalidRequest(_))
            ));
        }
    }

    #[test]
    fn delete_rules() {
        assert!(matches!(check_delete("c", S::Active), Err(RegistryError::CertificateState(_))));
        assert!(check_delete("c", S::Inactive).is_ok());
        assert!(check_delete("c", S::Revoked).is_ok());
        assert!(matches!(
            check_delete_attachments("c", 1, 0, true),
            Err(RegistryError::DeleteConflict(_))
        ));
        assert!(matches!(
            check_delete_attachments("c", 0, 2, false),
            Err(RegistryError::DeleteConflict(_))
        ));
        assert!(check_delete_attachments("c", 0, 2, true).is_ok());
        assert!(matches!(
            check_ca_delete("c", CaCertificateStatus::Active, 0),
            Err(RegistryError::CertificateState(_))
        ));
        assert!(matches!(
            check_ca_delete("c", CaCertificateStatus::Inactive, 1),
            Err(RegistryError::CertificateState(_))
        ));
        assert!(check_ca_delete("c", CaCertificateStatus::Inactive, 0).is_ok());
    }

    #[test]
    fn ids_markers_and_codes() {
        let id = "ab".repeat(32);
        assert!(check_certificate_id("certificateId", &id).is_ok());
        assert!(check_certificate_id("certificateId", "abc").is_err());
        assert!(check_certificate_id("certificateId", &"zz".repeat(32)).is_err());
        let marker = Marker::encode(1234, &id);
        assert_eq!(Marker::decode(&marker).unwrap(), Marker { created_ms: 1234, id: &id });
        assert!(Marker::decode("nonsense").is_err());
        let code = new_registration_code();
        assert_eq!(code.len(), 64);
        assert!(code.bytes().all(|b| b.is_ascii_hexdigit()));
    }
}
