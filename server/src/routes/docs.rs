//! The OpenAPI document, generated from the handlers, and interactive docs served locally.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Lookout",
        description = "Object detection over HTTP: send an image, get every detected object as a labelled box.\n\nErrors are RFC 9457 problems (`application/problem+json`).",
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
    }
}
