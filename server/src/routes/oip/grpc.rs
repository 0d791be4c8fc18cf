//! `inference.GRPCInferenceService` on `--grpc-addr`: the same front as the REST doors. The
//! key comes from the `authorization` metadata (`Bearer <key>`), messages are limited to
//! `--max-body-bytes` (and counted in the body budget), requests are admitted as
//! `POST /v1/detect` is, and a client's `grpc-timeout` shorter than the request deadline
//! ends the request at that time.

use std::sync::Arc;
use std::time::Instant;

use axum::routing::get;
use tonic::{Request, Response, Status};

use super::grpc_convert::{grpc_timeout, infer_call, infer_response, model_metadata, status};
use super::proto::inference::grpc_inference_service_server::{
    GrpcInferenceService, GrpcInferenceServiceServer,
};
use super::proto::inference::*;
use crate::error::{ApiError, Kind};
use crate::front::oip::metadata;
use crate::front::Front;
use crate::repository::Repository;

pub struct GrpcDoor {
    front: Arc<Front>,
    repository: Arc<Repository>,
}

/// The gRPC service as an axum router, for Lookout's own connection loop (HTTP/2). The
/// port also answers the REST health checks (`GET /v2/health/live` and `/ready` over
/// HTTP/1), so a platform that probes the serving port (Knative, for an h2c port) sees
/// when the model is ready.
pub fn router(front: Arc<Front>, repository: Arc<Repository>) -> axum::Router {
    let limit = front.limits().max_body_bytes;
    let ready = Arc::clone(&front);
    let health = axum::Router::new()
        .route(
            "/v2/health/live",
            get(|| async { axum::Json(serde_json::json!({ "live": true })) }),
        )
        .route(
            "/v2/health/ready",
            get(move || {
                let ready = ready.is_ready();
                async move { super::readiness(ready, serde_json::json!({ "ready": ready })) }
            }),
        );
    let service = GrpcInferenceServiceServer::new(GrpcDoor { front, repository })
        .max_decoding_message_size(limit)
        .max_encoding_message_size(usize::MAX);
    tonic::service::Routes::new(service)
        .into_axum_router()
        .merge(health)
        // Counted and timed like every HTTP route (`/inference.GRPCInferenceService/...`).
        .layer(axum::middleware::from_fn(crate::metrics::track))
}

impl GrpcDoor {
    fn authorize<T>(&self, request: &Request<T>) -> Result<(), Status> {
        let headers = request.metadata().clone().into_headers();
        self.front.authorize(&headers).map_err(status)
    }

    fn authorize_admin<T>(&self, request: &Request<T>) -> Result<(), Status> {
        let headers = request.metadata().clone().into_headers();
        self.repository.authorize(&headers).map_err(status)
    }
}

fn version(v: &str) -> Option<&str> {
    Some(v).filter(|v| !v.is_empty())
}

#[tonic::async_trait]
impl GrpcInferenceService for GrpcDoor {
    async fn server_live(
        &self,
        _: Request<ServerLiveRequest>,
    ) -> Result<Response<ServerLiveResponse>, Status> {
        Ok(Response::new(ServerLiveResponse { live: true }))
    }

    async fn server_ready(
        &self,
        _: Request<ServerReadyRequest>,
    ) -> Result<Response<ServerReadyResponse>, Status> {
        Ok(Response::new(ServerReadyResponse {
            ready: self.front.is_ready(),
        }))
    }

    async fn model_ready(
        &self,
        request: Request<ModelReadyRequest>,
    ) -> Result<Response<ModelReadyResponse>, Status> {
        let r = request.into_inner();
        let ready = self
            .front
            .model_ready(&r.name, version(&r.version))
            .map_err(status)?;
        Ok(Response::new(ModelReadyResponse { ready }))
    }

    async fn server_metadata(
        &self,
        _: Request<ServerMetadataRequest>,
    ) -> Result<Response<ServerMetadataResponse>, Status> {
        let m = metadata::server();
        Ok(Response::new(ServerMetadataResponse {
            name: m.name.to_owned(),
            version: m.version.to_owned(),
            extensions: m.extensions.into_iter().map(str::to_owned).collect(),
        }))
    }

    async fn model_metadata(
        &self,
        request: Request<ModelMetadataRequest>,
    ) -> Result<Response<ModelMetadataResponse>, Status> {
        self.authorize(&request)?;
        let r = request.into_inner();
        let m = self
            .front
            .model_metadata(&r.name, version(&r.version))
            .map_err(status)?;
        Ok(Response::new(model_metadata(m)))
    }

    async fn model_infer(
        &self,
        request: Request<ModelInferRequest>,
    ) -> Result<Response<ModelInferResponse>, Status> {
        let started = Instant::now();
        self.authorize(&request)?;
        let deadline = grpc_timeout(request.metadata());
        let message = request.into_inner();
        let size = message_size(&message);
        let reservation = self.front.reserve_body(size).await.map_err(status)?;
        let call = infer_call(message).map_err(status)?;
        let run = self.front.infer(call, Some(reservation), started);
        let answer = match deadline {
            Some(limit) => tokio::time::timeout(limit, run).await.map_err(|_| {
                status(ApiError::new(
                    Kind::Timeout,
                    format!(
                        "the request did not finish within its grpc-timeout of {} ms",
                        limit.as_millis()
                    ),
                ))
            })?,
            None => run.await,
        }
        .map_err(status)?;
        Ok(Response::new(infer_response(answer)))
    }

    async fn repository_index(
        &self,
        request: Request<RepositoryIndexRequest>,
    ) -> Result<Response<RepositoryIndexResponse>, Status> {
        self.authorize_admin(&request)?;
        let ready = request.into_inner().ready;
        let models = self
            .repository
            .index(self.front.models(), ready)
            .into_iter()
            .map(|e| repository_index_response::ModelIndex {
                name: e.name,
                version: e.version,
                state: e.state.to_owned(),
                reason: e.reason,
            })
            .collect();
        Ok(Response::new(RepositoryIndexResponse { models }))
    }

    async fn repository_model_load(
        &self,
        request: Request<RepositoryModelLoadRequest>,
    ) -> Result<Response<RepositoryModelLoadResponse>, Status> {
        self.authorize_admin(&request)?;
        let r = request.into_inner();
        if let Some(first) = r.parameters.keys().next() {
            return Err(status(ApiError::bad_request(format!(
                "load parameter `{first}` is not supported: Lookout loads the model's file from --models-dir (or its --model path) as it is"
            ))));
        }
        self.repository
            .load(self.front.models(), &r.model_name)
            .await
            .map_err(status)?;
        Ok(Response::new(RepositoryModelLoadResponse {}))
    }

    async fn repository_model_unload(
        &self,
        request: Request<RepositoryModelUnloadRequest>,
    ) -> Result<Response<RepositoryModelUnloadResponse>, Status> {
        self.authorize_admin(&request)?;
        let r = request.into_inner();
        self.repository
            .unload(self.front.models(), &r.model_name)
            .await
            .map_err(status)?;
        Ok(Response::new(RepositoryModelUnloadResponse {}))
    }
}

/// About how many bytes the message took on the wire (its data dominates).
fn message_size(message: &ModelInferRequest) -> u64 {
    let raw: usize = message.raw_input_contents.iter().map(Vec::len).sum();
    let contents: usize = message
        .inputs
        .iter()
        .filter_map(|i| i.contents.as_ref())
        .flat_map(|c| c.bytes_contents.iter().map(Vec::len))
        .sum();
    (raw + contents + 1024) as u64
}
