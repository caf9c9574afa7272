//! Device certificates: register (issued by the local CA, signed by a registered CA, or
//! without a CA), describe, update the status, delete (with the attachment rules), list (all
//! or by CA, by creation time).

use ferrocore_pki::{ParsedCertificate, PkiError};
use ferrocore_store::rusqlite::{self, OptionalExtension, Row, Transaction, params};

use crate::certificate_rules::{
    self as rules, CaCertificateStatus, CertificateMode, CertificateStatus, Marker,
};
use crate::error::RegistryError;
use crate::{CaCertificate, Change, Page, Registry, now_ms};

/// A device certificate as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Certificate {
    /// Lowercase hex SHA-256 of the DER.
    pub id: String,
    /// `arn:aws:iot:{region}:{account}:cert/{id}`.
    pub arn: String,
    /// The certificate, PEM (re-encoded from its DER, LF line endings).
    pub pem: String,
    /// Its status.
    pub status: CertificateStatus,
    /// The registered CA certificate that signed it (none for certificates issued by
    /// Ferrocore's own CA or registered without a CA).
    pub ca_certificate_id: Option<String>,
    /// The account that owns it.
    pub owned_by: String,
    /// The account that owned it before a transfer.
    pub previous_owned_by: Option<String>,
    /// Registration time, ms since the epoch.
    pub created_ms: i64,
    /// Last change, ms since the epoch.
    pub updated_ms: i64,
    /// notBefore, ms.
    pub not_before_ms: i64,
    /// notAfter, ms.
    pub not_after_ms: i64,
    /// DEFAULT, or SNI_ONLY when registered without a CA.
    pub mode: CertificateMode,
    /// A new UUID at every change.
    pub generation_id: String,
    /// 1 at registration, one more at every change.
    pub customer_version: i64,
}

const COLUMNS: &str = "id, pem, status, ca_certificate_id, owned_by, previous_owned_by, \
                       created_ms, updated_ms, not_before_ms, not_after_ms, mode, generation_id, \
                       customer_version";

/// A PKI error as a certificate validation failure.
pub(crate) fn validation(error: PkiError) -> RegistryError {
    RegistryError::CertificateValidation(error.to_string())
}

/// Parses `pem` and checks that it is valid now.
pub(crate) fn parse_valid(pem: &str) -> Result<ParsedCertificate, RegistryError> {
    let certificate = ParsedCertificate::from_pem(pem).map_err(validation)?;
    certificate.check_validity(now_ms()).map_err(validation)?;
    Ok(certificate)
}

impl Registry {
    fn certificate_from_row(&self, row: &Row<'_>) -> rusqlite::Result<Certificate> {
        let id: String = row.get(0)?;
        let status: String = row.get(2)?;
        let mode: String = row.get(10)?;
        Ok(Certificate {
            arn: self.arns.certificate_arn(&id),
            id,
            pem: row.get(1)?,
            // The registry writes only valid names.
            status: CertificateStatus::parse(&status).unwrap_or(CertificateStatus::Inactive),
            ca_certificate_id: row.get(3)?,
            owned_by: row.get(4)?,
            previous_owned_by: row.get(5)?,
            created_ms: row.get(6)?,
            updated_ms: row.get(7)?,
            not_before_ms: row.get(8)?,
            not_after_ms: row.get(9)?,
            mode: CertificateMode::parse(&mode).unwrap_or(CertificateMode::Default),
            generation_id: row.get(11)?,
            customer_version: row.get(12)?,
        })
    }

    pub(crate) fn certificate_in(
        &self,
        tx: &Transaction<'_>,
        id: &str,
    ) -> Result<Option<Certificate>, RegistryError> {
        Ok(tx
            .prepare_cached(&format!("SELECT {COLUMNS} FROM certificates WHERE id = ?1"))?
            .query_row([id], |row| self.certificate_from_row(row))
            .optional()?)
    }

    /// `certificate_in`, or `NotFound` in AWS's words.
    fn existing_certificate(
        &self,
        tx: &Transaction<'_>,
        id: &str,
    ) -> Result<Certificate, RegistryError> {
        self.certificate_in(tx, id)?
            .ok_or_else(|| RegistryError::NotFound(format!("Certificate {id} does not exist")))
    }

    /// Inserts a new certificate, or fails with `AlreadyExists` naming the existing one.
    fn insert_certificate(
        &self,
        tx: &Transaction<'_>,
        certificate: &ParsedCertificate,
        status: CertificateStatus,
        ca_certificate_id: Option<String>,
        mode: CertificateMode,
    ) -> Result<Certificate, RegistryError> {
        if let Some(existing) = self.certificate_in(tx, certificate.id())? {
            return Err(RegistryError::AlreadyExists {
                message: format!("The certificate is already registered with id {}", existing.id),
                resource_id: existing.id,
                resource_arn: existing.arn,
            });
        }
        let now = now_ms();
        let row = Certificate {
            id: certificate.id().to_owned(),
            arn: self.arns.certificate_arn(certificate.id()),
            pem: certificate.pem(),
            status,
            ca_certificate_id,
            owned_by: self.arns.account.clone(),
            previous_owned_by: None,
            created_ms: now,
            updated_ms: now,
            not_before_ms: certificate.not_before_ms(),
            not_after_ms: certificate.not_after_ms(),
            mode,
            generation_id: uuid::Uuid::new_v4().to_string(),
            customer_version: 1,
        };
        tx.prepare_cached(&format!(
            "INSERT INTO certificates ({COLUMNS}, arn, issuer)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"
        ))?
        .execute(params![
            row.id,
            row.pem,
            row.status.as_str(),
            row.ca_certificate_id,
            row.owned_by,
            row.previous_owned_by,
            row.created_ms,
            row.updated_ms,
            row.not_before_ms,
            row.not_after_ms,
            row.mode.as_str(),
            row.generation_id,
            row.customer_version,
            row.arn,
            hex_of(certificate.issuer_der()),
        ])?;
        Ok(row)
    }

    /// Registers a certificate Ferrocore's own CA has just issued (CreateKeysAndCertificate,
    /// CreateCertificateFromCsr): ACTIVE if `set_as_active`, else INACTIVE.
    pub async fn register_issued_certificate(
        &self,
        pem: &str,
        set_as_active: bool,
    ) -> Result<Certificate, RegistryError> {
        let certificate = parse_valid(pem)?;
        let status = rules::registration_status(None, set_as_active)?;
        let registry = self.clone();
        self.store
            .execute(move |tx| {
                registry.insert_certificate(
                    tx,
                    &certificate,
                    status,
                    None,
                    CertificateMode::Default,
                )
            })
            .await
    }

    /// RegisterCertificate: a certificate signed by a registered CA certificate. With
    /// `ca_pem` that CA must be registered and have signed it; without, the registered CA is
    /// found by the certificate's issuer name and signature (`CertificateConflict` if several
    /// registered CAs could have signed it). A certificate cannot be registered ACTIVE while
    /// its CA is INACTIVE.
    pub async fn register_certificate(
        &self,
        pem: &str,
        ca_pem: Option<&str>,
        status: CertificateStatus,
    ) -> Result<Certificate, RegistryError> {
        let certificate = parse_valid(pem)?;
        let ca = ca_pem
            .map(|ca_pem| ParsedCertificate::from_pem(ca_pem).map_err(validation))
            .transpose()?;
        let registry = self.clone();
        self.store
            .execute(move |tx| {
                let ca = match ca {
                    Some(ca) => {
                        let registered =
                            registry.ca_certificate_in(tx, ca.id())?.ok_or_else(|| {
                                RegistryError::CertificateValidation(format!(
                                    "The CA certificate {} is not registered: register it with \
                                 RegisterCACertificate first",
                                    ca.id()
                                ))
                            })?;
                        certificate.verify_signed_by(&ca).map_err(validation)?;
                        registered
                    }
                    None => registry.issuing_ca(tx, &certificate)?,
                };
                if ca.status == CaCertificateStatus::Inactive && status == CertificateStatus::Active
                {
                    return Err(RegistryError::CertificateState(format!(
                        "The CA certificate {} is INACTIVE: a certificate it signed cannot be \
                         registered as ACTIVE",
                        ca.id
                    )));
                }
                registry.insert_certificate(
                    tx,
                    &certificate,
                    status,
                    Some(ca.id),
                    CertificateMode::Default,
                )
            })
            .await
    }

    /// The one registered CA certificate that signed `certificate`.
    fn issuing_ca(
        &self,
        tx: &Transaction<'_>,
        certificate: &ParsedCertificate,
    ) -> Result<CaCertificate, RegistryError> {
        let candidates = self.ca_certificates_with_subject(tx, certificate.issuer_der())?;
        let mut signers = candidates.into_iter().filter(|ca| {
            ParsedCertificate::from_pem(&ca.pem)
                .is_ok_and(|parsed| certificate.verify_signed_by(&parsed).is_ok())
        });
        let Some(signer) = signers.next() else {
            return Err(RegistryError::CertificateValidation(
                "The certificate is not signed by any registered CA certificate: register its \
                 CA with RegisterCACertificate, or use RegisterCertificateWithoutCA"
                    .into(),
            ));
        };
        if let Some(other) = signers.next() {
            return Err(RegistryError::CertificateConflict(format!(
                "Several registered CA certificates could have signed the certificate ({} and \
                 {}): pass caCertificatePem",
                signer.id, other.id
            )));
        }
        Ok(signer)
    }

    /// RegisterCertificateWithoutCA: any valid certificate, mode SNI_ONLY.
    pub async fn register_certificate_without_ca(
        &self,
        pem: &str,
        status: CertificateStatus,
    ) -> Result<Certificate, RegistryError> {
        let certificate = parse_valid(pem)?;
        let registry = self.clone();
        self.store
            .execute(move |tx| {
                registry.insert_certificate(
                    tx,
                    &certificate,
                    status,
                    None,
                    CertificateMode::SniOnly,
                )
            })
            .await
    }

    /// DescribeCertificate.
    pub fn describe_certificate(&self, id: &str) -> Result<Certificate, RegistryError> {
        rules::check_certificate_id("certificateId", id)?;
        self.store.read(|tx| self.existing_certificate(tx, id))
    }

    /// UpdateCertificate: sets the status (see [`rules::check_update`]).
    pub async fn update_certificate(
        &self,
        id: &str,
        new_status: CertificateStatus,
    ) -> Result<(), RegistryError> {
        rules::check_certificate_id("certificateId", id)?;
        let id = id.to_owned();
        let registry = self.clone();
        let changed = self
            .store
            .execute({
                let id = id.clone();
                move |tx| {
                    let current = registry.existing_certificate(tx, &id)?;
                    rules::check_update(&id, current.status, new_status)?;
                    if current.status == new_status {
                        return Ok(false);
                    }
                    tx.prepare_cached(
                        "UPDATE certificates SET status = ?2, updated_ms = ?3, generation_id = ?4,
                         customer_version = customer_version + 1 WHERE id = ?1",
                    )?
                    .execute(params![
                        id,
                        new_status.as_str(),
                        now_ms(),
                        uuid::Uuid::new_v4().to_string()
                    ])?;
                    Ok::<_, RegistryError>(true)
                }
            })
            .await?;
        if changed {
            self.notify(Change::Certificate { id });
        }
        Ok(())
    }

    /// DeleteCertificate: refused while ACTIVE or pending transfer, while attached to a thing,
    /// and while policies are attached unless `force_delete` (which detaches them).
    pub async fn delete_certificate(
        &self,
        id: &str,
        force_delete: bool,
    ) -> Result<(), RegistryError> {
        rules::check_certificate_id("certificateId", id)?;
        let id = id.to_owned();
        let registry = self.clone();
        let detached = self
            .store
            .execute({
                let id = id.clone();
                move |tx| {
                    let current = registry.existing_certificate(tx, &id)?;
                    rules::check_delete(&id, current.status)?;
                    let count = |sql: &str| -> Result<usize, RegistryError> {
                        let n: i64 =
                            tx.prepare_cached(sql)?.query_row([&current.arn], |r| r.get(0))?;
                        Ok(usize::try_from(n).unwrap_or(usize::MAX))
                    };
                    let things =
                        count("SELECT count(*) FROM thing_principals WHERE principal = ?1")?;
                    let policies =
                        count("SELECT count(*) FROM policy_attachments WHERE target = ?1")?;
                    rules::check_delete_attachments(&id, things, policies, force_delete)?;
                    tx.prepare_cached("DELETE FROM policy_attachments WHERE target = ?1")?
                        .execute([&current.arn])?;
                    tx.prepare_cached("DELETE FROM certificates WHERE id = ?1")?.execute([&id])?;
                    Ok::<_, RegistryError>(policies > 0)
                }
            })
            .await?;
        self.notify(Change::Certificate { id });
        if detached {
            self.notify(Change::Authorization);
        }
        Ok(())
    }

    /// ListCertificates (`ca` None) and ListCertificatesByCA: by creation time (then id),
    /// ascending or descending, after `marker`, at most `limit`.
    pub fn list_certificates(
        &self,
        ca: Option<&str>,
        marker: Option<&str>,
        limit: usize,
        ascending: bool,
    ) -> Result<Page<Certificate>, RegistryError> {
        if let Some(ca) = ca {
            rules::check_certificate_id("caCertificateId", ca)?;
        }
        let marker = marker.map(Marker::decode).transpose()?;
        let (order, cmp) = if ascending { ("ASC", ">") } else { ("DESC", "<") };
        let limit_plus_one = i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX);
        let rows = self.store.read(|tx| {
            let mut stmt = tx.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM certificates
                 WHERE (?1 IS NULL OR ca_certificate_id = ?1)
                   AND (?2 IS NULL OR (created_ms, id) {cmp} (?2, ?3))
                 ORDER BY created_ms {order}, id {order} LIMIT ?4"
            ))?;
            let rows = stmt
                .query_map(
                    params![ca, marker.map(|m| m.created_ms), marker.map(|m| m.id), limit_plus_one],
                    |row| self.certificate_from_row(row),
                )?
                .collect::<Result<Vec<_>, _>>()?;
            Ok::<_, RegistryError>(rows)
        })?;
        Ok(Page::from_rows(rows, limit, |c| Marker::encode(c.created_ms, &c.id)))
    }
}

/// Lowercase hex of `bytes`.
pub(crate) fn hex_of(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}
