//! `lookout pull-model`'s command line: which sources, in which order, with which pin; and
//! `--list`. Nothing is contacted.

use clap::{CommandFactory, Parser};
use pull::{listing, HubEnv, PullArgs, SourceKind, DEFAULT_HUB};

const HUB_FILE: &str = "onnxmodelzoo/legacy_models/resolve/main/validated/vision/object_detection_segmentation/faster-rcnn/model/FasterRCNN-12.onnx";

/// `lookout pull-model ...` as the CLI parses it.
#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    pull: PullArgs,
}

fn parse(args: &[&str]) -> Result<PullArgs, clap::Error> {
    Cli::try_parse_from(std::iter::once("pull-model").chain(args.iter().copied())).map(|c| c.pull)
}

fn urls(args: &[&str], hub: &HubEnv) -> Vec<(SourceKind, String)> {
    let (plan, _) = parse(args).unwrap().plan(hub).unwrap();
    plan.sources
        .into_iter()
        .map(|s| (s.kind, s.url.to_string()))
        .collect()
}

#[test]
fn the_command_line_resolves_sources() {
    Cli::command().debug_assert();
    let hub = HubEnv::default();

    // No arguments: the zoo's COCO model, pinned, from the Hub first and GitHub after it.
    let (plan, entry) = parse(&[]).unwrap().plan(&hub).unwrap();
    assert_eq!(entry.map(|e| e.name), Some("coco-zoo"));
    assert_eq!(plan.pin.file_name, "FasterRCNN-12.onnx");
    assert_eq!(plan.pin.size, 176_713_194);
    assert_eq!(
        urls(&[], &hub),
        vec![
            (SourceKind::Hub, format!("{DEFAULT_HUB}/{HUB_FILE}")),
            (
                SourceKind::Web,
                "https://github.com/onnx/models/raw/main/validated/vision/object_detection_segmentation/faster-rcnn/model/FasterRCNN-12.onnx".to_owned()
            ),
        ]
    );

    // A mirror for a catalogue model comes first and keeps the catalogue's pin.
    let mirror_args = ["coco-zoo", "--url", "http://127.0.0.1:1/m/zoo.onnx"];
    let (mirror, _) = parse(&mirror_args).unwrap().plan(&hub).unwrap();
    assert_eq!(mirror.pin, plan.pin);
    let sources = urls(&mirror_args, &hub);
    assert_eq!(
        sources[0],
        (
            SourceKind::Mirror,
            "http://127.0.0.1:1/m/zoo.onnx".to_owned()
        )
    );
    assert_eq!(&sources[1..], &urls(&[], &hub)[..]);

    // A custom file needs its pin; its name comes from the URL unless --file says.
    let hash = "0".repeat(64);
    let args = [
        "--url",
        "http://127.0.0.1:1/x/custom.onnx",
        "--sha256",
        &hash,
    ];
    assert!(parse(&args).unwrap().plan(&hub).is_err());
    let (custom, entry) = parse(&[&args[..], &["--size", "10"]].concat())
        .unwrap()
        .plan(&hub)
        .unwrap();
    assert!(entry.is_none());
    assert_eq!(custom.pin.file_name, "custom.onnx");
    assert_eq!(custom.sources.len(), 1);
    assert_eq!(custom.sources[0].kind, SourceKind::Mirror);
    let (named, _) = parse(&[&args[..], &["--size", "10", "--file", "mine.onnx"]].concat())
        .unwrap()
        .plan(&hub)
        .unwrap();
    assert_eq!(named.pin.file_name, "mine.onnx");

    // --sha256 without --url is a usage error; an unknown model names the known ones.
    assert!(parse(&["--sha256", &hash]).is_err());
    let unknown = parse(&["imagenet"])
        .unwrap()
        .plan(&hub)
        .unwrap_err()
        .to_string();
    assert!(unknown.contains("coco-zoo"), "{unknown}");
}

#[test]
fn hf_endpoint_moves_the_hub_source_to_that_base() {
    let hub = HubEnv {
        endpoint: Some("http://127.0.0.1:9/hf-mirror/".to_owned()),
        token: None,
    };
    let sources = urls(&["coco-zoo"], &hub);
    assert_eq!(
        sources[0],
        (
            SourceKind::Hub,
            format!("http://127.0.0.1:9/hf-mirror/{HUB_FILE}")
        )
    );
    assert!(sources[1].1.starts_with("https://github.com/"));
    // --url still comes first, before the Hub mirror.
    let sources = urls(&["coco-zoo", "--url", "http://127.0.0.1:1/m.onnx"], &hub);
    assert_eq!(sources[0].0, SourceKind::Mirror);
    assert_eq!(sources[1].0, SourceKind::Hub);

    let bad = HubEnv {
        endpoint: Some("ftp://mirror.example".to_owned()),
        token: None,
    };
    let err = parse(&[]).unwrap().plan(&bad).unwrap_err().to_string();
    assert!(err.contains("HF_ENDPOINT"), "{err}");
}

#[test]
fn hf_token_is_passed_to_the_options_and_not_shown() {
    let hub = HubEnv {
        endpoint: None,
        token: Some("hf_secret".to_owned()),
    };
    let options = parse(&[]).unwrap().options(&hub);
    assert_eq!(options.hub_token.as_deref(), Some("hf_secret"));
    assert!(!format!("{options:?}").contains("hf_secret"));
}

#[test]
fn the_list_shows_each_entrys_sources_with_the_hub_first() {
    let text = listing(&HubEnv::default()).unwrap();
    let hub = text
        .find("source 1: Hugging Face Hub: https://huggingface.co/onnxmodelzoo/legacy_models/")
        .unwrap_or_else(|| panic!("{text}"));
    let github = text
        .find("source 2: GitHub LFS (onnx/models): https://github.com/onnx/models/")
        .unwrap_or_else(|| panic!("{text}"));
    assert!(hub < github, "{text}");
    assert!(
        text.starts_with("coco-zoo\tFasterRCNN-12.onnx\t176713194 bytes"),
        "{text}"
    );

    let mirrored = listing(&HubEnv {
        endpoint: Some("https://hf-mirror.example".to_owned()),
        token: None,
    })
    .unwrap();
    assert!(
        mirrored.contains("source 1: Hugging Face Hub mirror (HF_ENDPOINT): https://hf-mirror.example/onnxmodelzoo/"),
        "{mirrored}"
    );
}
