//! What the server and its models say about themselves: the protocol's server and model
//! metadata, health and readiness, the same for REST and gRPC.

use serde::Serialize;
use utoipa::ToSchema;

use super::tensor::{output_spec, BYTES, INPUT, OUTPUTS};
use super::{Front, VERSION};
use crate::error::ApiError;
use crate::models::ModelState;

/// The protocol extensions Lookout serves.
pub const EXTENSIONS: [&str; 2] = ["binary_tensor_data", "model_repository"];

/// The platform the models run on, as Triton names it.
pub const PLATFORM: &str = "onnxruntime_onnx";

/// `GET /v2`: the server, its version and the protocol extensions it serves.
#[derive(Debug, Clone, Serialize, PartialEq, ToSchema)]
pub struct ServerMetadata {
    pub name: &'static str,
    pub version: &'static str,
    pub extensions: Vec<&'static str>,
}

pub fn server() -> ServerMetadata {
    ServerMetadata {
        name: "lookout",
        version: env!("CARGO_PKG_VERSION"),
        extensions: EXTENSIONS.to_vec(),
    }
}

/// An input or output tensor: its name, datatype and shape (-1: one row per detection).
#[derive(Debug, Clone, Serialize, PartialEq, ToSchema)]
pub struct TensorMetadata {
    pub name: &'static str,
    pub datatype: &'static str,
    pub shape: Vec<i64>,
}

/// `GET /v2/models/{name}`: the same signature for every model (one input, `image`).
#[derive(Debug, Clone, Serialize, PartialEq, ToSchema)]
pub struct ModelMetadata {
    pub name: String,
    pub versions: Vec<&'static str>,
    pub platform: &'static str,
    pub inputs: Vec<TensorMetadata>,
    pub outputs: Vec<TensorMetadata>,
}

impl Front {
    /// The metadata of the model `name` (any version check done by the caller): the same
    /// signature for every model, whether it is ready yet or not.
    pub fn model_metadata(
        &self,
        name: &str,
        version: Option<&str>,
    ) -> Result<ModelMetadata, ApiError> {
        let slot = self.models().slot(Some(name))?;
        super::check_version(name, version)?;
        Ok(ModelMetadata {
            name: slot.name().to_owned(),
            versions: vec![VERSION],
            platform: PLATFORM,
            inputs: vec![TensorMetadata {
                name: INPUT,
                datatype: BYTES,
                shape: vec![1],
            }],
            outputs: OUTPUTS
                .iter()
                .filter_map(|&name| {
                    output_spec(name).map(|(datatype, shape)| TensorMetadata {
                        name,
                        datatype,
                        shape,
                    })
                })
                .collect(),
        })
    }

    /// Whether the model `name` takes requests now (unknown: 404).
    pub fn model_ready(&self, name: &str, version: Option<&str>) -> Result<bool, ApiError> {
        let slot = self.models().slot(Some(name))?;
        super::check_version(name, version)?;
        Ok(slot.state() == ModelState::Ready && !self.is_shutting_down())
    }
}
