//! The OpenAPI document, generated from the handlers, and interactive docs served locally.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Lookout",
        description = "Object detection over HTTP: send an image, get every detected object as a labelled box.\n\nErrors are RFC 9457 problems (`application/problem+json`), except under /v2 (the Open Inference Protocol): `{\"error\": \"...\"}`.",
    ),
    paths(
        crate::routes::predict::predict,
        crate::routes::v1::detect,
        crate::routes::v1::detect_batch,
        crate::routes::stream::stream,
        crate::routes::v1::models,
        crate::routes::health::healthz,
        crate::routes::health::readyz,
        crate::routes::health::metrics,
        crate::routes::oip::server_metadata,
        crate::routes::oip::live,
        crate::routes::oip::ready,
        crate::routes::oip::model_metadata,
        crate::routes::oip::model_metadata_of,
        crate::routes::oip::model_ready,
        crate::routes::oip::model_ready_of,
        crate::routes::oip::infer::infer,
        crate::routes::oip::infer::infer_version,
        crate::routes::oip::repository::index,
        crate::routes::oip::repository::load,
        crate::routes::oip::repository::unload,
    ),
    components(schemas(
        app::types::Problem,
        app::types::DetectResponse,
        crate::front::stream::StreamAnswer
    )),
    modifiers(&BearerAuth),
    tags(
        (name = "detection", description = "The current API"),
        (name = "compatibility", description = "The original Python service's API, unchanged"),
        (name = "operations", description = "Health and metrics"),
        (name = "open inference protocol", description = "The Open Inference Protocol (KServe v2) over REST: the same front as /v1/detect, for tritonclient and KServe's clients. Errors are `{\"error\": \"...\"}` with the status of Lookout's problem. The same service over gRPC on --grpc-addr (proto/grpc_service.proto)."),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("Needed only when the server runs with --api-key"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "admin_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The model repository's key (--admin-key); without one on the server its calls answer 403",
                    ))
                    .build(),
            ),
        );
    }
}
