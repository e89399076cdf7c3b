//! The OpenAPI document, gathered from the handlers' `utoipa::path` annotations (so a route
//! and its description cannot drift apart: a test checks every router path is listed).

use utoipa::OpenApi;

use crate::{api, audit_api};

#[derive(OpenApi)]
#[openapi(
    paths(
        api::health,
        api::post_model,
        api::get_model,
        api::get_vk,
        api::post_prove,
        api::get_job,
        api::delete_job,
        api::get_setup,
        api::get_result,
        api::post_verify,
        api::openapi,
        audit_api::post_infer,
        audit_api::get_root,
        audit_api::get_entry,
        audit_api::post_audit,
        audit_api::get_audit_job,
        audit_api::get_audit_report,
    ),
    info(
        title = "prove-server",
        description = "Set up models, prove inferences as queued jobs, verify proofs."
    )
)]
struct ApiDoc;

/// The document.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
