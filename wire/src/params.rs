//! What a detection request may ask, whichever door it comes through: the options, their
//! one validator, their defaults and ranges, and the score rule.
//!
//! Every door gathers a [`DetectParams`] from its own encoding (a query string, a JSON body,
//! form fields, command-line flags, a stream's query) and turns it into [`DetectOptions`]
//! with [`DetectParams::options`]: the same ranges and the same words everywhere.

use serde::{Deserialize, Serialize};

use crate::format::OutputFormat;
use crate::ranges::{
    ParamError, DEFAULT_MAX_DETECTIONS, DEFAULT_THRESHOLD, DEFAULT_TILE_OVERLAP, MAX_DETECTIONS,
    MAX_TILE_OVERLAP,
};

/// The option names every door accepts besides the image itself, in the order error
/// messages list them.
pub const OPTION_NAMES: [&str; 6] = [
    "threshold",
    "max_detections",
    "format",
    "model",
    "tile",
    "tile_overlap",
];

/// Scores a hair under the threshold still count: a threshold typed or slid as a decimal
/// (0.3) and a score stored as f32 may differ in the last bit.
const SCORE_EPSILON: f32 = 1e-6;

/// The score rule: a detection is kept (returned, drawn, exported) when its score is at
/// least the threshold. The engine, the exports and the page all decide with this.
pub fn passes(score: f32, threshold: f32) -> bool {
    score + SCORE_EPSILON >= threshold
}

/// Tiled detection (SAHI-style): besides the whole image at the model's working size, a
/// large image is cut into overlapping tiles of the working size, each looked at in the
/// original pixels, and the detections are merged. Finds objects that the whole-image pass
/// shrinks below what the model can see, at the cost of one run per tile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum TileMode {
    /// One run on the whole image.
    #[default]
    Off,
    /// Tiles when the model would shrink the image (to less than 3/4 of its size); one run
    /// otherwise.
    Auto,
}

impl TileMode {
    pub fn as_str(self) -> &'static str {
        match self {
            TileMode::Off => "off",
            TileMode::Auto => "auto",
        }
    }
}

impl std::str::FromStr for TileMode {
    type Err = ParamError;
    fn from_str(s: &str) -> Result<Self, ParamError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "off" => Ok(TileMode::Off),
            "auto" => Ok(TileMode::Auto),
            other => Err(ParamError::Tile(other.to_owned())),
        }
    }
}

/// The options of a detection request as the caller gave them, before validation: every
/// field optional, unknown fields refused. The same type is the query string of
/// `/v1/detect`, the options of its JSON body and form, the batch's, the stream's and the
/// command line's.
///
/// Every encoding reads an option's value as text through [`DetectParams::set`]: a JSON
/// body's `"threshold": 0.5` and `"threshold": "0.5"`, a form's `threshold=0.5` and a flag's
/// `--threshold 0.5` are one value, and a value that cannot be read is refused by
/// [`DetectParams::options`] in the same words whatever the encoding.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema, utoipa::IntoParams))]
#[cfg_attr(feature = "schema", into_params(parameter_in = Query))]
pub struct DetectParams {
    /// Keep detections scoring at least this (0..1, default 0.5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "schema",
        schema(minimum = 0.0, maximum = 1.0, example = 0.5)
    )]
    pub threshold: Option<f32>,
    /// Keep at most this many, best first (1..1000, default 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schema(minimum = 1, maximum = 1000))]
    pub max_detections: Option<usize>,
    /// `json` (default); `png` / `jpeg` for the image with the boxes drawn on it
    /// (`Accept: image/png` or `image/jpeg` does the same); `coco`, `yolo`, `voc` or `csv`
    /// for a dataset export (COCO JSON, YOLO ZIP, Pascal VOC ZIP, CSV); `zip` for the
    /// annotated image as PNG in a ZIP. Exports keep the detections scoring at least the
    /// threshold, in original (EXIF-upright) pixels, and name the image after the uploaded
    /// file (multipart file name, JSON `name`, the URL's file name), else `image.<ext>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<OutputFormat>,
    /// The model to run (see `GET /v1/models`); default: the server's default model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// `auto`: also look at a large image tile by tile, to find small objects (one model
    /// run per tile, merged with class-wise NMS); `off` (default): the whole image once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tile: Option<TileMode>,
    /// How much neighbouring tiles overlap, as a fraction of a tile (0..0.5, default 0.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schema(minimum = 0.0, maximum = 0.5))]
    pub tile_overlap: Option<f32>,
    /// The first value that could not be read (a JSON body's options are read whole before
    /// they are checked): [`DetectParams::options`] refuses it.
    #[serde(skip)]
    #[cfg_attr(feature = "schema", schema(ignore))]
    #[cfg_attr(feature = "schema", param(ignore))]
    pub unreadable: Option<ParamError>,
}

impl DetectParams {
    /// Sets one option from its text form (a query string, a form field, a flag). `Ok(false)`
    /// when `name` is not an option; an empty `model` means the default model.
    pub fn set(&mut self, name: &str, value: &str) -> Result<bool, ParamError> {
        let value = value.trim();
        let number = |name: &'static str| ParamError::NotANumber {
            name,
            value: value.to_owned(),
        };
        match name {
            "threshold" => self.threshold = Some(value.parse().map_err(|_| number("threshold"))?),
            "max_detections" => {
                self.max_detections =
                    Some(value.parse().map_err(|_| ParamError::NotAWholeNumber {
                        name: "max_detections",
                        value: value.to_owned(),
                    })?)
            }
            "format" => self.format = Some(value.parse()?),
            "model" => self.model = (!value.is_empty()).then(|| value.to_owned()),
            "tile" => self.tile = Some(value.parse()?),
            "tile_overlap" => {
                self.tile_overlap = Some(value.parse().map_err(|_| number("tile_overlap"))?)
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Lays `over`'s options over these: what `over` gives wins (the query string over the
    /// body).
    pub fn overlay(&mut self, over: DetectParams) {
        self.threshold = over.threshold.or(self.threshold);
        self.max_detections = over.max_detections.or(self.max_detections);
        self.format = over.format.or(self.format);
        self.model = over.model.or(self.model.take());
        self.tile = over.tile.or(self.tile);
        self.tile_overlap = over.tile_overlap.or(self.tile_overlap);
        self.unreadable = self.unreadable.take().or(over.unreadable);
    }

    /// The one validator: the detection options these ask for, with `default_threshold`
    /// when none is given (the page asks for everything above [`crate::UI_SCORE_FLOOR`]).
    pub fn options(&self, default_threshold: f32) -> Result<DetectOptions, ParamError> {
        if let Some(unreadable) = &self.unreadable {
            return Err(unreadable.clone());
        }
        DetectOptions::new(
            self.threshold.unwrap_or(default_threshold),
            self.max_detections.unwrap_or(DEFAULT_MAX_DETECTIONS),
        )?
        .with_tiling(self.tile.unwrap_or_default(), self.tile_overlap)
    }
}

/// A JSON object of options: each value, a string or a number (`null`: not given), goes
/// through [`DetectParams::set`] as text; unknown names are refused by serde.
impl<'de> Deserialize<'de> for DetectParams {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_struct("DetectParams", &OPTION_NAMES, ParamsVisitor)
    }
}

struct ParamsVisitor;

impl<'de> serde::de::Visitor<'de> for ParamsVisitor {
    type Value = DetectParams;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("detection options")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<DetectParams, A::Error> {
        let mut params = DetectParams::default();
        while let Some(name) = map.next_key::<String>()? {
            let Some(known) = OPTION_NAMES.iter().find(|n| **n == name) else {
                return Err(serde::de::Error::unknown_field(&name, &OPTION_NAMES));
            };
            let Scalar(text) = map.next_value()?;
            let Some(text) = text else { continue };
            if let Err(e) = params.set(known, &text) {
                params.unreadable.get_or_insert(e);
            }
        }
        Ok(params)
    }
}

/// One option's value as text: a string as it is, a number as written, `null` as absent.
/// For encodings that take one option on its own (the original `PUT /predict` body's
/// `threshold`), to be read through [`DetectParams::set`] like every other.
#[derive(Debug, Clone, PartialEq)]
pub struct Scalar(pub Option<String>);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Text;
        impl serde::de::Visitor<'_> for Text {
            type Value = Scalar;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a number or a string")
            }
            fn visit_str<E>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar(Some(v.to_owned())))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar(Some(v.to_string())))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar(Some(v.to_string())))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar(Some(v.to_string())))
            }
            fn visit_bool<E>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar(Some(v.to_string())))
            }
            fn visit_unit<E>(self) -> Result<Scalar, E> {
                Ok(Scalar(None))
            }
            fn visit_none<E>(self) -> Result<Scalar, E> {
                Ok(Scalar(None))
            }
        }
        deserializer.deserialize_any(Text)
    }
}

/// Validated detection options: what the engine is asked to do.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DetectOptions {
    /// Keep detections scoring at least this (0..=1), by [`passes`].
    pub threshold: f32,
    /// Keep at most this many, best first.
    pub max_detections: usize,
    /// Whether a large image is also looked at tile by tile (small objects).
    pub tile: TileMode,
    /// How much neighbouring tiles overlap, as a fraction of the tile (0..=0.5).
    pub tile_overlap: f32,
}

impl DetectOptions {
    /// Checks the threshold and the detection count.
    pub fn new(threshold: f32, max_detections: usize) -> Result<Self, ParamError> {
        if !(0.0..=1.0).contains(&threshold) {
            return Err(ParamError::Threshold(threshold));
        }
        if !(1..=MAX_DETECTIONS).contains(&max_detections) {
            return Err(ParamError::MaxDetections(max_detections));
        }
        Ok(Self {
            threshold,
            max_detections,
            ..Self::default()
        })
    }

    /// These options with tiled detection set (see [`TileMode`]); `overlap` defaults to
    /// [`DEFAULT_TILE_OVERLAP`] and must be within `0..=`[`MAX_TILE_OVERLAP`].
    pub fn with_tiling(self, tile: TileMode, overlap: Option<f32>) -> Result<Self, ParamError> {
        let tile_overlap = overlap.unwrap_or(DEFAULT_TILE_OVERLAP);
        if !(0.0..=MAX_TILE_OVERLAP).contains(&tile_overlap) {
            return Err(ParamError::TileOverlap(tile_overlap));
        }
        Ok(Self {
            tile,
            tile_overlap,
            ..self
        })
    }
}

impl Default for DetectOptions {
    fn default() -> Self {
        Self {
            threshold: DEFAULT_THRESHOLD,
            max_detections: DEFAULT_MAX_DETECTIONS,
            tile: TileMode::Off,
            tile_overlap: DEFAULT_TILE_OVERLAP,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_options_parse_and_validate_in_one_place() {
        let mut p = DetectParams::default();
        assert!(p.set("threshold", " 0.3 ").unwrap());
        assert!(p.set("tile", "AUTO").unwrap());
        assert!(p.set("model", "").unwrap());
        assert!(!p.set("colour", "red").unwrap());
        assert_eq!(p.model, None);
        let o = p.options(DEFAULT_THRESHOLD).unwrap();
        assert_eq!(
            (o.threshold, o.tile, o.max_detections),
            (0.3, TileMode::Auto, 100)
        );

        for (name, value, want) in [
            ("threshold", "high", "threshold `high` is not a number"),
            (
                "max_detections",
                "2.5",
                "max_detections `2.5` is not a whole number",
            ),
            ("tile", "yes", "tile must be `auto` or `off`, got `yes`"),
            ("format", "gif", "format `gif` is not one of"),
        ] {
            let err = DetectParams::default().set(name, value).unwrap_err();
            assert!(err.to_string().starts_with(want), "{name}={value}: {err}");
        }
        for (params, want) in [
            (
                DetectParams {
                    threshold: Some(1.5),
                    ..Default::default()
                },
                ParamError::Threshold(1.5),
            ),
            (
                DetectParams {
                    max_detections: Some(0),
                    ..Default::default()
                },
                ParamError::MaxDetections(0),
            ),
            (
                DetectParams {
                    tile_overlap: Some(0.9),
                    ..Default::default()
                },
                ParamError::TileOverlap(0.9),
            ),
        ] {
            assert_eq!(params.options(DEFAULT_THRESHOLD).unwrap_err(), want);
        }
    }

    #[test]
    fn later_options_win() {
        let mut body = DetectParams {
            threshold: Some(0.2),
            model: Some("a".into()),
            ..Default::default()
        };
        body.overlay(DetectParams {
            model: Some("b".into()),
            ..Default::default()
        });
        assert_eq!(
            (body.threshold, body.model.as_deref()),
            (Some(0.2), Some("b"))
        );
    }

    #[test]
    fn unknown_json_fields_are_refused() {
        let err = serde_json::from_str::<DetectParams>(r#"{"treshold": 0.2}"#).unwrap_err();
        assert!(
            err.to_string().contains("unknown field `treshold`"),
            "{err}"
        );
    }

    #[test]
    fn json_values_read_as_the_text_forms_do() {
        let json = |text: &str| serde_json::from_str::<DetectParams>(text).unwrap();
        let mut text = DetectParams::default();
        for (name, value) in [("threshold", "0.25"), ("tile", "AUTO"), ("format", "jpg")] {
            text.set(name, value).unwrap();
        }
        assert_eq!(
            json(r#"{"threshold": 0.25, "tile": "AUTO", "format": "jpg", "model": ""}"#),
            text
        );
        assert_eq!(
            json(r#"{"threshold": "0.25", "model": null}"#).threshold,
            Some(0.25)
        );
        for (body, name, value) in [
            (r#"{"threshold": "abc"}"#, "threshold", "abc"),
            (r#"{"max_detections": 2.5}"#, "max_detections", "2.5"),
            (r#"{"tile": "maybe"}"#, "tile", "maybe"),
            (r#"{"format": "gif"}"#, "format", "gif"),
        ] {
            let words = DetectParams::default().set(name, value).unwrap_err();
            assert_eq!(
                json(body).options(DEFAULT_THRESHOLD).unwrap_err(),
                words,
                "{body}"
            );
        }
    }

    #[test]
    fn a_score_at_the_threshold_passes() {
        assert!(passes(0.3, 0.3));
        assert!(passes(0.3_f64 as f32, "0.3".parse::<f32>().unwrap()));
        assert!(!passes(0.299, 0.3));
    }
}
