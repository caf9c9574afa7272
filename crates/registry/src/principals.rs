//! Thing principals: AttachThingPrincipal (exclusive or not), DetachThingPrincipal,
//! ListThingPrincipals(V2), ListPrincipalThings(V2). A principal is a registered certificate's
//! ARN; the thing must exist.

use ferrocore_store::rusqlite::{Transaction, params};

use crate::attachments::{certificate_exists, thing_exists, things_of};
use crate::error::RegistryError;
use crate::policy_rules::{self, Target, ThingPrincipalType};
use crate::{Page, Registry, rules};

/// A principal attached to a thing, with how it is attached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThingPrincipal {
    /// The principal (a certificate ARN).
    pub principal: String,
    /// The thing's name.
    pub thing: String,
    /// Exclusive or not.
    pub kind: ThingPrincipalType,
}

fn not_found_thing(name: &str) -> RegistryError {
    RegistryError::NotFound(format!("Thing {name} cannot be found."))
}

fn kind_of(value: &str) -> ThingPrincipalType {
    // Written by this module only, from ThingPrincipalType::as_str.
    ThingPrincipalType::parse(value).unwrap_or_default()
}

fn attachments_of(
    tx: &Transaction<'_>,
    principal: &str,
) -> Result<Vec<(String, ThingPrincipalType)>, RegistryError> {
    Ok(tx
        .prepare_cached(
            "SELECT thing_name, principal_type FROM thing_principals WHERE principal = ?1",
        )?
        .query_map([principal], |row| {
            Ok((row.get::<_, String>(0)?, kind_of(&row.get::<_, String>(1)?)))
        })?
        .collect::<Result<Vec<_>, _>>()?)
}

fn limit_param(limit: usize) -> i64 {
    i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX)
}

impl Registry {
    /// Checks a principal's form and that its certificate is registered.
    fn check_principal(&self, tx: &Transaction<'_>, principal: &str) -> Result<(), RegistryError> {
        let Target::Certificate(id) =
            policy_rules::parse_target(&self.arns, "principal", principal, true)?
        else {
            return Err(RegistryError::InvalidRequest(format!("{principal} is not a certificate")));
        };
        if certificate_exists(tx, &id)? {
            Ok(())
        } else {
            Err(RegistryError::NotFound(format!("The certificate {principal} does not exist")))
        }
    }

    /// AttachThingPrincipal. Attaching again is fine (and sets the type given).
    pub async fn attach_thing_principal(
        &self,
        thing: &str,
        principal: &str,
        kind: ThingPrincipalType,
    ) -> Result<(), RegistryError> {
        rules::check_name("thingName", thing)?;
        policy_rules::parse_target(&self.arns, "principal", principal, true)?;
        let (thing, principal) = (thing.to_owned(), principal.to_owned());
        let registry = self.clone();
        self.write_authorization(move |tx| {
            if !thing_exists(tx, &thing)? {
                return Err(not_found_thing(&thing));
            }
            registry.check_principal(tx, &principal)?;
            let current = attachments_of(tx, &principal)?;
            policy_rules::check_thing_attachment(&principal, &thing, kind, &current)?;
            tx.prepare_cached(
                "INSERT INTO thing_principals (thing_name, principal, principal_type) VALUES (?1, ?2, ?3)
                 ON CONFLICT (thing_name, principal) DO UPDATE SET principal_type = excluded.principal_type",
            )?
            .execute([&thing, &principal, kind.as_str()])?;
            Ok(())
        })
        .await
    }

    /// DetachThingPrincipal: the thing must exist; a principal that is not attached is fine.
    pub async fn detach_thing_principal(
        &self,
        thing: &str,
        principal: &str,
    ) -> Result<(), RegistryError> {
        rules::check_name("thingName", thing)?;
        policy_rules::parse_target(&self.arns, "principal", principal, true)?;
        let (thing, principal) = (thing.to_owned(), principal.to_owned());
        self.write_authorization(move |tx| {
            if !thing_exists(tx, &thing)? {
                return Err(not_found_thing(&thing));
            }
            tx.prepare_cached(
                "DELETE FROM thing_principals WHERE thing_name = ?1 AND principal = ?2",
            )?
            .execute([&thing, &principal])?;
            Ok(())
        })
        .await
    }

    /// ListThingPrincipals(V2): the principals of `thing` after `after`, in order, optionally
    /// only those of one type.
    pub fn list_thing_principals(
        &self,
        thing: &str,
        kind: Option<ThingPrincipalType>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<ThingPrincipal>, RegistryError> {
        rules::check_name("thingName", thing)?;
        let rows = self.store.read(|tx| {
            if !thing_exists(tx, thing)? {
                return Err(not_found_thing(thing));
            }
            let rows = tx
                .prepare_cached(
                    "SELECT principal, principal_type FROM thing_principals
                     WHERE thing_name = ?1 AND principal > ?2 AND (?3 IS NULL OR principal_type = ?3)
                     ORDER BY principal LIMIT ?4",
                )?
                .query_map(
                    params![thing, after.unwrap_or(""), kind.map(|k| k.as_str()), limit_param(limit)],
                    |row| {
                        Ok(ThingPrincipal {
                            principal: row.get(0)?,
                            thing: thing.to_owned(),
                            kind: kind_of(&row.get::<_, String>(1)?),
                        })
                    },
                )?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })?;
        Ok(Page::from_rows(rows, limit, |p| p.principal.clone()))
    }

    /// ListPrincipalThings(V2): the things of `principal` after `after`, in name order. The
    /// principal must be a registered certificate.
    pub fn list_principal_things(
        &self,
        principal: &str,
        kind: Option<ThingPrincipalType>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<ThingPrincipal>, RegistryError> {
        let rows = self.store.read(|tx| {
            self.check_principal(tx, principal)?;
            let rows = tx
                .prepare_cached(
                    "SELECT thing_name, principal_type FROM thing_principals
                     WHERE principal = ?1 AND thing_name > ?2 AND (?3 IS NULL OR principal_type = ?3)
                     ORDER BY thing_name LIMIT ?4",
                )?
                .query_map(
                    params![principal, after.unwrap_or(""), kind.map(|k| k.as_str()), limit_param(limit)],
                    |row| {
                        Ok(ThingPrincipal {
                            principal: principal.to_owned(),
                            thing: row.get(0)?,
                            kind: kind_of(&row.get::<_, String>(1)?),
                        })
                    },
                )?
                .collect::<Result<Vec<_>, _>>()?;
            Ok::<_, RegistryError>(rows)
        })?;
        Ok(Page::from_rows(rows, limit, |p| p.thing.clone()))
    }

    /// The names of the things `principal` (a certificate ARN) is attached to, in name order.
    pub fn things_of_principal(&self, principal: &str) -> Result<Vec<String>, RegistryError> {
        self.store.read(|tx| things_of(tx, principal))
    }
}
