//! CA certificates and the registration code: register (proof of possession through a
//! verification certificate whose CommonName is the registration code, or none in SNI_ONLY
//! mode), describe, update (status, auto-registration, registration config), delete, list.

use ferrocore_pki::ParsedCertificate;
use ferrocore_store::rusqlite::{self, OptionalExtension, Row, Transaction, params};
use serde::{Deserialize, Serialize};

use crate::certificate_rules::{
    self as rules, AutoRegistrationStatus, CaCertificateStatus, CertificateMode, Marker,
};
use crate::certificates::{hex_of, parse_valid, validation};
use crate::error::{RegistryError, invalid};
use crate::tags::{Tag, check_tags, put_tags};
use crate::{Change, Page, Registry, now_ms};

/// The `settings` key of the registration code.
const REGISTRATION_CODE_KEY: &str = "registration_code";

/// Just-in-time provisioning settings of a CA (stored and returned).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistrationConfig {
    /// `templateBody`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_body: Option<String>,
    /// `roleArn`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    /// `templateName`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_name: Option<String>,
}

/// A CA certificate as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaCertificate {
    /// Lowercase hex SHA-256 of the DER.
    pub id: String,
    /// `arn:aws:iot:{region}:{account}:cacert/{id}`.
    pub arn: String,
    /// The certificate, PEM.
    pub pem: String,
    /// ACTIVE or INACTIVE.
    pub status: CaCertificateStatus,
    /// Whether just-in-time registration is enabled.
    pub auto_registration: AutoRegistrationStatus,
    /// The owning account.
    pub owned_by: String,
    /// Registration time, ms.
    pub created_ms: i64,
    /// Last change, ms.
    pub updated_ms: i64,
    /// notBefore, ms.
    pub not_before_ms: i64,
    /// notAfter, ms.
    pub not_after_ms: i64,
    /// DEFAULT or SNI_ONLY.
    pub mode: CertificateMode,
    /// A new UUID at every change.
    pub generation_id: String,
    /// 1 at registration, one more at every change.
    pub customer_version: i64,
    /// Just-in-time provisioning settings.
    pub registration_config: Option<RegistrationConfig>,
}

/// What RegisterCACertificate asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCaCertificate {
    /// `caCertificate`, PEM.
    pub pem: String,
    /// `verificationCertificate`, PEM: required in DEFAULT mode.
    pub verification_pem: Option<String>,
    /// `setAsActive`.
    pub set_as_active: bool,
    /// `allowAutoRegistration`.
    pub allow_auto_registration: bool,
    /// `registrationConfig`.
    pub registration_config: Option<RegistrationConfig>,
    /// `certificateMode` (DEFAULT if absent).
    pub mode: CertificateMode,
    /// `tags`.
    pub tags: Vec<Tag>,
}

/// What UpdateCACertificate asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CaCertificateUpdate {
    /// `newStatus`.
    pub new_status: Option<CaCertificateStatus>,
    /// `newAutoRegistrationStatus`.
    pub new_auto_registration: Option<AutoRegistrationStatus>,
    /// `registrationConfig`: replaces the stored one.
    pub registration_config: Option<RegistrationConfig>,
    /// `removeAutoRegistration`: drops the registration config.
    pub remove_auto_registration: bool,
}

const COLUMNS: &str = "id, pem, status, auto_registration, owned_by, created_ms, updated_ms, \
                       not_before_ms, not_after_ms, mode, generation_id, customer_version, \
                       registration_config";

impl Registry {
    fn ca_certificate_from_row(
        &self,
        row: &Row<'_>,
    ) -> rusqlite::Result<(CaCertificate, Option<String>)> {
        let id: String = row.get(0)?;
        let status: String = row.get(2)?;
        let auto: String = row.get(3)?;
        let mode: String = row.get(9)?;
        let ca = CaCertificate {
            arn: self.arns.ca_certificate_arn(&id),
            id,
            pem: row.get(1)?,
            // The registry writes only valid names.
            status: CaCertificateStatus::parse(&status).unwrap_or(CaCertificateStatus::Inactive),
            auto_registration: AutoRegistrationStatus::parse(&auto)
                .unwrap_or(AutoRegistrationStatus::Disable),
            owned_by: row.get(4)?,
            created_ms: row.get(5)?,
            updated_ms: row.get(6)?,
            not_before_ms: row.get(7)?,
            not_after_ms: row.get(8)?,
            mode: CertificateMode::parse(&mode).unwrap_or(CertificateMode::Default),
            generation_id: row.get(10)?,
            customer_version: row.get(11)?,
            registration_config: None,
        };
        Ok((ca, row.get(12)?))
    }

    fn ca_rows(
        &self,
        rows: Vec<(CaCertificate, Option<String>)>,
    ) -> Result<Vec<CaCertificate>, RegistryError> {
        rows.into_iter()
            .map(|(mut ca, config)| {
                ca.registration_config = config.map(|c| serde_json::from_str(&c)).transpose()?;
                Ok(ca)
            })
            .collect()
    }

    pub(crate) fn ca_certificate_in(
        &self,
        tx: &Transaction<'_>,
        id: &str,
    ) -> Result<Option<CaCertificate>, RegistryError> {
        let row = tx
            .prepare_cached(&format!("SELECT {COLUMNS} FROM ca_certificates WHERE id = ?1"))?
            .query_row([id], |row| self.ca_certificate_from_row(row))
            .optional()?;
        Ok(self.ca_rows(row.into_iter().collect())?.pop())
    }

    /// `ca_certificate_in`, or `NotFound` in AWS's words.
    fn existing_ca_certificate(
        &self,
        tx: &Transaction<'_>,
        id: &str,
    ) -> Result<CaCertificate, RegistryError> {
        self.ca_certificate_in(tx, id)?
            .ok_or_else(|| RegistryError::NotFound(format!("CA certificate {id} does not exist")))
    }

    /// The registered CA certificates whose subject is `subject` (DER).
    pub(crate) fn ca_certificates_with_subject(
        &self,
        tx: &Transaction<'_>,
        subject: &[u8],
    ) -> Result<Vec<CaCertificate>, RegistryError> {
        let rows = tx
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM ca_certificates WHERE subject = ?1 ORDER BY created_ms, id"
            ))?
            .query_map([hex_of(subject)], |row| self.ca_certificate_from_row(row))?
            .collect::<Result<Vec<_>, _>>()?;
        self.ca_rows(rows)
    }

    /// The registered CA certificates that could have issued `certificate` (its issuer name is
    /// their subject and its signature verifies with their key), for the TLS gateway.
    pub fn ca_certificates_for(
        &self,
        certificate: &ParsedCertificate,
    ) -> Result<Vec<CaCertificate>, RegistryError> {
        let candidates = self
            .store
            .read(|tx| self.ca_certificates_with_subject(tx, certificate.issuer_der()))?;
        Ok(candidates
            .into_iter()
            .filter(|ca| {
                ParsedCertificate::from_pem(&ca.pem)
                    .is_ok_and(|parsed| certificate.verify_signed_by(&parsed).is_ok())
            })
            .collect())
    }

    fn registration_code_in(tx: &Transaction<'_>) -> Result<Option<String>, RegistryError> {
        Ok(tx
            .prepare_cached("SELECT value FROM settings WHERE key = ?1")?
            .query_row([REGISTRATION_CODE_KEY], |row| row.get(0))
            .optional()?)
    }

    /// GetRegistrationCode: the account's code (64 hex digits), created on first use and
    /// kept until DeleteRegistrationCode.
    pub async fn get_registration_code(&self) -> Result<String, RegistryError> {
        self.store
            .execute(|tx| {
                if let Some(code) = Registry::registration_code_in(tx)? {
                    return Ok(code);
                }
                let code = rules::new_registration_code();
                tx.prepare_cached("INSERT INTO settings (key, value) VALUES (?1, ?2)")?
                    .execute(params![REGISTRATION_CODE_KEY, code])?;
                Ok::<_, RegistryError>(code)
            })
            .await
    }

    /// DeleteRegistrationCode: the next GetRegistrationCode makes a new one. Deleting when
    /// there is none is not an error.
    pub async fn delete_registration_code(&self) -> Result<(), RegistryError> {
        self.store
            .execute(|tx| {
                tx.prepare_cached("DELETE FROM settings WHERE key = ?1")?
                    .execute([REGISTRATION_CODE_KEY])?;
                Ok::<_, RegistryError>(())
            })
            .await
    }

    /// RegisterCACertificate. The certificate must be a valid CA certificate. In DEFAULT mode
    /// a verification certificate is required: valid, signed by the CA, with the registration
    /// code as its subject CommonName. At most [`rules::MAX_CAS_PER_SUBJECT`] CAs may share a
    /// subject.
    pub async fn register_ca_certificate(
        &self,
        new: NewCaCertificate,
    ) -> Result<CaCertificate, RegistryError> {
        check_tags(&new.tags)?;
        let ca = parse_valid(&new.pem)?;
        if !ca.is_ca() {
            return Err(RegistryError::CertificateValidation(
                "The certificate is not a CA certificate: its basicConstraints extension does \
                 not say CA:TRUE"
                    .into(),
            ));
        }
        let verification = match (&new.verification_pem, new.mode) {
            (Some(pem), _) => {
                let verification = parse_valid(pem).map_err(|e| {
                    RegistryError::CertificateValidation(format!("Verification certificate: {e}"))
                })?;
                verification.verify_signed_by(&ca).map_err(|e| {
                    RegistryError::CertificateValidation(format!(
                        "The verification certificate is not signed by the CA certificate: {}",
                        validation(e)
                    ))
                })?;
                Some(verification)
            }
            (None, CertificateMode::Default) => {
                return Err(invalid(
                    "verificationCertificate is required to register a CA certificate in \
                     DEFAULT mode (SNI_ONLY mode needs none)",
                ));
            }
            (None, CertificateMode::SniOnly) => None,
        };
        let registry = self.clone();
        self.store
            .execute(move |tx| {
                if let Some(verification) = &verification {
                    let code = Registry::registration_code_in(tx)?.ok_or_else(|| {
                        RegistryError::RegistrationCodeValidation(
                            "There is no registration code: call GetRegistrationCode and use \
                             it as the verification certificate's CommonName"
                                .into(),
                        )
                    })?;
                    let cn = verification.subject_common_name();
                    if cn.as_deref() != Some(code.as_str()) {
                        return Err(RegistryError::RegistrationCodeValidation(format!(
                            "The verification certificate's CommonName ({}) is not the \
                             registration code",
                            cn.as_deref().unwrap_or("none")
                        )));
                    }
                }
                if let Some(existing) = registry.ca_certificate_in(tx, ca.id())? {
                    return Err(RegistryError::AlreadyExists {
                        message: format!(
                            "The CA certificate is already registered with id {}",
                            existing.id
                        ),
                        resource_id: existing.id,
                        resource_arn: existing.arn,
                    });
                }
                let same_subject = registry.ca_certificates_with_subject(tx, ca.subject_der())?;
                if same_subject.len() >= rules::MAX_CAS_PER_SUBJECT {
                    return Err(RegistryError::LimitExceeded(format!(
                        "At most {} CA certificates may have the same subject",
                        rules::MAX_CAS_PER_SUBJECT
                    )));
                }
                let now = now_ms();
                let row = CaCertificate {
                    id: ca.id().to_owned(),
                    arn: registry.arns.ca_certificate_arn(ca.id()),
                    pem: ca.pem(),
                    status: if new.set_as_active {
                        CaCertificateStatus::Active
                    } else {
                        CaCertificateStatus::Inactive
                    },
                    auto_registration: if new.allow_auto_registration {
                        AutoRegistrationStatus::Enable
                    } else {
                        AutoRegistrationStatus::Disable
                    },
                    owned_by: registry.arns.account.clone(),
                    created_ms: now,
                    updated_ms: now,
                    not_before_ms: ca.not_before_ms(),
                    not_after_ms: ca.not_after_ms(),
                    mode: new.mode,
                    generation_id: uuid::Uuid::new_v4().to_string(),
                    customer_version: 1,
                    registration_config: new.registration_config,
                };
                let config =
                    row.registration_config.as_ref().map(serde_json::to_string).transpose()?;
                tx.prepare_cached(&format!(
                    "INSERT INTO ca_certificates ({COLUMNS}, arn, subject)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"
                ))?
                .execute(params![
                    row.id,
                    row.pem,
                    row.status.as_str(),
                    row.auto_registration.as_str(),
                    row.owned_by,
                    row.created_ms,
                    row.updated_ms,
                    row.not_before_ms,
                    row.not_after_ms,
                    row.mode.as_str(),
                    row.generation_id,
                    row.customer_version,
                    config,
                    row.arn,
                    hex_of(ca.subject_der()),
                ])?;
                put_tags(tx, &row.arn, &new.tags)?;
                Ok(row)
            })
            .await
    }

    /// DescribeCACertificate.
    pub fn describe_ca_certificate(&self, id: &str) -> Result<CaCertificate, RegistryError> {
        rules::check_certificate_id("caCertificateId", id)?;
        self.store.read(|tx| self.existing_ca_certificate(tx, id))
    }

    /// UpdateCACertificate.
    pub async fn update_ca_certificate(
        &self,
        id: &str,
        update: CaCertificateUpdate,
    ) -> Result<(), RegistryError> {
        rules::check_certificate_id("caCertificateId", id)?;
        if update.remove_auto_registration && update.registration_config.is_some() {
            return Err(invalid(
                "registrationConfig and removeAutoRegistration cannot be given together",
            ));
        }
        let id = id.to_owned();
        let registry = self.clone();
        let status_changed = self
            .store
            .execute({
                let id = id.clone();
                move |tx| {
                    let current = registry.existing_ca_certificate(tx, &id)?;
                    let status = update.new_status.unwrap_or(current.status);
                    let auto = update.new_auto_registration.unwrap_or(current.auto_registration);
                    let config = if update.remove_auto_registration {
                        None
                    } else {
                        update.registration_config.or(current.registration_config)
                    };
                    let config = config.as_ref().map(serde_json::to_string).transpose()?;
                    tx.prepare_cached(
                        "UPDATE ca_certificates SET status = ?2, auto_registration = ?3,
                         registration_config = ?4, updated_ms = ?5, generation_id = ?6,
                         customer_version = customer_version + 1 WHERE id = ?1",
                    )?
                    .execute(params![
                        id,
                        status.as_str(),
                        auto.as_str(),
                        config,
                        now_ms(),
                        uuid::Uuid::new_v4().to_string()
                    ])?;
                    Ok::<_, RegistryError>(status != current.status)
                }
            })
            .await?;
        if status_changed {
            self.notify(Change::CaCertificate { id });
        }
        Ok(())
    }

    /// DeleteCACertificate: only an INACTIVE CA that no registered certificate names.
    pub async fn delete_ca_certificate(&self, id: &str) -> Result<(), RegistryError> {
        rules::check_certificate_id("caCertificateId", id)?;
        let id = id.to_owned();
        let registry = self.clone();
        self.store
            .execute({
                let id = id.clone();
                move |tx| {
                    let current = registry.existing_ca_certificate(tx, &id)?;
                    let signed: i64 = tx
                        .prepare_cached(
                            "SELECT count(*) FROM certificates WHERE ca_certificate_id = ?1",
                        )?
                        .query_row([&id], |row| row.get(0))?;
                    rules::check_ca_delete(
                        &id,
                        current.status,
                        usize::try_from(signed).unwrap_or(usize::MAX),
                    )?;
                    tx.prepare_cached("DELETE FROM ca_certificates WHERE id = ?1")?
                        .execute([&id])?;
                    tx.prepare_cached("DELETE FROM tags WHERE resource_arn = ?1")?
                        .execute([&current.arn])?;
                    Ok::<_, RegistryError>(())
                }
            })
            .await?;
        self.notify(Change::CaCertificate { id });
        Ok(())
    }

    /// ListCACertificates: by creation time (then id), after `marker`, at most `limit`;
    /// with `template_name`, only CAs whose registration config names that template.
    pub fn list_ca_certificates(
        &self,
        template_name: Option<&str>,
        marker: Option<&str>,
        limit: usize,
        ascending: bool,
    ) -> Result<Page<CaCertificate>, RegistryError> {
        let marker = marker.map(Marker::decode).transpose()?;
        let (order, cmp) = if ascending { ("ASC", ">") } else { ("DESC", "<") };
        let limit_plus_one = i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX);
        let rows = self.store.read(|tx| {
            let mut stmt = tx.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM ca_certificates
                 WHERE (?1 IS NULL OR json_extract(registration_config, '$.template_name') = ?1)
                   AND (?2 IS NULL OR (created_ms, id) {cmp} (?2, ?3))
                 ORDER BY created_ms {order}, id {order} LIMIT ?4"
            ))?;
            let rows = stmt
                .query_map(
                    params![
                        template_name,
                        marker.map(|m| m.created_ms),
                        marker.map(|m| m.id),
                        limit_plus_one
                    ],
                    |row| self.ca_certificate_from_row(row),
                )?
                .collect::<Result<Vec<_>, _>>()?;
            Ok::<_, RegistryError>(rows)
        })?;
        let rows = self.ca_rows(rows)?;
        Ok(Page::from_rows(rows, limit, |c| Marker::encode(c.created_ms, &c.id)))
    }
}
