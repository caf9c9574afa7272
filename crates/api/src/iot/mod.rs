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

mod endpoint;
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
