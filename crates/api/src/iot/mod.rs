//! The `iot` control plane: routes, query parameters and JSON members exactly as botocore's
//! `iot` model (2015-05-28) declares them.
//!
//! | operation | route |
//! | --- | --- |
//! | CreateThing, DescribeThing, UpdateThing, DeleteThing | `POST/GET/PATCH/DELETE /things/{thingName}` |
//! | ListThings | `GET /things` |
//! | ListThingGroupsForThing | `GET /things/{thingName}/thing-groups` |
//! | CreateThingType, DescribeThingType, UpdateThingType, DeleteThingType | `POST/GET/PATCH/DELETE /thing-types/{thingTypeName}` |
//! | DeprecateThingType | `POST /thing-types/{thingTypeName}/deprecate` |
//! | ListThingTypes | `GET /thing-types` |
//! | CreateThingGroup, DescribeThingGroup, UpdateThingGroup, DeleteThingGroup | `POST/GET/PATCH/DELETE /thing-groups/{thingGroupName}` |
//! | ListThingGroups | `GET /thing-groups` |
//! | ListThingsInThingGroup | `GET /thing-groups/{thingGroupName}/things` |
//! | AddThingToThingGroup, RemoveThingFromThingGroup, UpdateThingGroupsForThing | `PUT /thing-groups/{addThingToThingGroup,removeThingFromThingGroup,updateThingGroupsForThing}` |
//! | TagResource, UntagResource, ListTagsForResource | `POST /tags`, `POST /untag`, `GET /tags` |
//! | DescribeEndpoint | `GET /endpoint` |
//! | DescribeEventConfigurations, UpdateEventConfigurations | `GET/PATCH /event-configurations` |
//! | CreateKeysAndCertificate | `POST /keys-and-certificate` |
//! | CreateCertificateFromCsr, ListCertificates | `POST/GET /certificates` |
//! | DescribeCertificate, UpdateCertificate, DeleteCertificate | `GET/PUT/DELETE /certificates/{certificateId}` |
//! | RegisterCertificate, RegisterCertificateWithoutCA | `POST /certificate/register`, `POST /certificate/register-no-ca` |
//! | ListCertificatesByCA | `GET /certificates-by-ca/{caCertificateId}` |
//! | GetRegistrationCode, DeleteRegistrationCode | `GET/DELETE /registrationcode` |
//! | RegisterCACertificate, ListCACertificates | `POST /cacertificate`, `GET /cacertificates` |
//! | DescribeCACertificate, UpdateCACertificate, DeleteCACertificate | `GET/PUT/DELETE /cacertificate/{caCertificateId}` |
//! | CreateTopicRule, GetTopicRule, ReplaceTopicRule, DeleteTopicRule | `POST/GET/PATCH/DELETE /rules/{ruleName}` |
//! | ListTopicRules | `GET /rules` |
//! | EnableTopicRule, DisableTopicRule | `POST /rules/{ruleName}/enable`, `POST /rules/{ruleName}/disable` |
//! | CreateTopicRuleDestination, ListTopicRuleDestinations, UpdateTopicRuleDestination | `POST/GET/PATCH /destinations` |
//! | GetTopicRuleDestination, DeleteTopicRuleDestination | `GET/DELETE /destinations/{arn+}` |
//! | ConfirmTopicRuleDestination | `GET /confirmdestination/{confirmationToken+}` |
//! | CreatePolicy, GetPolicy, DeletePolicy | `POST/GET/DELETE /policies/{policyName}` |
//! | ListPolicies | `GET /policies` |
//! | CreatePolicyVersion, ListPolicyVersions | `POST/GET /policies/{policyName}/version` |
//! | GetPolicyVersion, SetDefaultPolicyVersion, DeletePolicyVersion | `GET/PATCH/DELETE /policies/{policyName}/version/{policyVersionId}` |
//! | AttachPolicy, DetachPolicy | `PUT/POST /target-policies/{policyName}` |
//! | ListAttachedPolicies | `POST /attached-policies/{target}` |
//! | ListTargetsForPolicy | `POST /policy-targets/{policyName}` |
//! | GetEffectivePolicies | `POST /effective-policies` |
//! | TestAuthorization | `POST /test-authorization` |
//! | AttachPrincipalPolicy, DetachPrincipalPolicy (deprecated) | `PUT/DELETE /principal-policies/{policyName}` |
//! | ListPrincipalPolicies, ListPolicyPrincipals (deprecated) | `GET /principal-policies`, `GET /policy-principals` |
//! | AttachThingPrincipal, DetachThingPrincipal, ListThingPrincipals | `PUT/DELETE/GET /things/{thingName}/principals` |
//! | ListThingPrincipalsV2 | `GET /things/{thingName}/principals-v2` |
//! | ListPrincipalThings, ListPrincipalThingsV2 | `GET /principals/things`, `GET /principals/things-v2` |

mod authorization;
mod ca_certificates;
mod certificates;
mod endpoint;
mod events;
mod policies;
mod principals;
mod rules;
mod tags;
mod thing_groups;
mod thing_types;
mod things;

use axum::Router;
use axum::routing::{get, post, put};

use crate::ApiState;

/// The `iot` router (without authentication; [`crate::app`] adds it).
pub fn router() -> Router<ApiState> {
    Router::new()
        .route("/things", get(things::list))
        .route(
            "/things/{thingName}",
            post(things::create).get(things::describe).patch(things::update).delete(things::delete),
        )
        .route("/things/{thingName}/thing-groups", get(thing_groups::list_for_thing))
        .route("/thing-types", get(thing_types::list))
        .route(
            "/thing-types/{thingTypeName}",
            post(thing_types::create)
                .get(thing_types::describe)
                .patch(thing_types::update)
                .delete(thing_types::delete),
        )
        .route("/thing-types/{thingTypeName}/deprecate", post(thing_types::deprecate))
        .route("/thing-groups", get(thing_groups::list))
        .route("/thing-groups/addThingToThingGroup", put(thing_groups::add_thing))
        .route("/thing-groups/removeThingFromThingGroup", put(thing_groups::remove_thing))
        .route("/thing-groups/updateThingGroupsForThing", put(thing_groups::update_for_thing))
        .route(
            "/thing-groups/{thingGroupName}",
            post(thing_groups::create)
                .get(thing_groups::describe)
                .patch(thing_groups::update)
                .delete(thing_groups::delete),
        )
        .route("/thing-groups/{thingGroupName}/things", get(thing_groups::list_things))
        .route("/tags", post(tags::tag).get(tags::list))
        .route("/untag", post(tags::untag))
        .route("/endpoint", get(endpoint::describe))
        .route("/event-configurations", get(events::describe).patch(events::update))
        .route("/keys-and-certificate", post(certificates::create_keys_and_certificate))
        .route("/certificates", get(certificates::list).post(certificates::create_from_csr))
        .route(
            "/certificates/{certificateId}",
            get(certificates::describe).put(certificates::update).delete(certificates::delete),
        )
        .route("/certificate/register", post(certificates::register))
        .route("/certificate/register-no-ca", post(certificates::register_without_ca))
        .route("/certificates-by-ca/{caCertificateId}", get(certificates::list_by_ca))
        .route(
            "/registrationcode",
            get(ca_certificates::get_registration_code)
                .delete(ca_certificates::delete_registration_code),
        )
        .route("/cacertificate", post(ca_certificates::register))
        .route(
            "/cacertificate/{caCertificateId}",
            get(ca_certificates::describe)
                .put(ca_certificates::update)
                .delete(ca_certificates::delete),
        )
        .route("/cacertificates", get(ca_certificates::list))
        .route("/rules", get(rules::list))
        .route(
            "/rules/{ruleName}",
            post(rules::create).get(rules::get).patch(rules::replace).delete(rules::delete),
        )
        .route("/rules/{ruleName}/enable", post(rules::enable))
        .route("/rules/{ruleName}/disable", post(rules::disable))
        .route(
            "/destinations",
            post(rules::create_destination)
                .get(rules::list_destinations)
                .patch(rules::update_destination),
        )
        .route(
            "/destinations/{*arn}",
            get(rules::get_destination).delete(rules::delete_destination),
        )
        .route("/confirmdestination/{*confirmationToken}", get(rules::confirm_destination))
        .route("/policies", get(policies::list))
        .route(
            "/policies/{policyName}",
            post(policies::create).get(policies::get).delete(policies::delete),
        )
        .route(
            "/policies/{policyName}/version",
            post(policies::create_version).get(policies::list_versions),
        )
        .route(
            "/policies/{policyName}/version/{policyVersionId}",
            get(policies::get_version)
                .patch(policies::set_default_version)
                .delete(policies::delete_version),
        )
        .route("/target-policies/{policyName}", put(policies::attach).post(policies::detach))
        .route("/attached-policies/{target}", post(policies::list_attached))
        .route("/policy-targets/{policyName}", post(policies::list_targets))
        .route("/effective-policies", post(policies::effective))
        .route("/test-authorization", post(authorization::test))
        .route(
            "/principal-policies/{policyName}",
            put(policies::attach_principal).delete(policies::detach_principal),
        )
        .route("/principal-policies", get(policies::list_principal_policies))
        .route("/policy-principals", get(policies::list_policy_principals))
        .route(
            "/things/{thingName}/principals",
            put(principals::attach).delete(principals::detach).get(principals::list_for_thing),
        )
        .route("/things/{thingName}/principals-v2", get(principals::list_for_thing_v2))
        .route("/principals/things", get(principals::list_things))
        .route("/principals/things-v2", get(principals::list_things_v2))
}

/// Milliseconds since the epoch as the model's `timestamp`: epoch seconds, fractional.
pub(crate) fn timestamp(ms: i64) -> f64 {
    // Precision loss only beyond 2^53 ms, some 285,000 years away.
    #[allow(clippy::cast_precision_loss)]
    let seconds = ms as f64 / 1000.0;
    seconds
}

/// The empty JSON object that void operations return.
pub(crate) fn empty() -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({}))
}
