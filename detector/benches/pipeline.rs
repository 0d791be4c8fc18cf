//! `cargo bench -p detector`: decode + preprocess, and inference, on the demo model.

use std::path::Path;

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use detector::{decode, Decoded, DetectOptions, Engine, EngineConfig, Limits};

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/shapes")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn bench(c: &mut Criterion) {
    let png = fixture("0000.png");
    let jpeg = fixture("jpeg/0000.jpg");
    let limits = Limits::default();

    let mut group = c.benchmark_group("decode+preprocess");
    group.bench_function("png", |b| {
        b.iter(|| detector::tensor::torchvision(&decode(black_box(&png), &limits).unwrap()))
    });
    group.bench_function("jpeg", |b| {
        b.iter(|| detector::tensor::torchvision(&decode(black_box(&jpeg), &limits).unwrap()))
    });
    group.finish();

    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/shapes.onnx");
    let engine = Engine::load(&EngineConfig::new(model))
        .expect("demo model and onnxruntime (run `make setup`)");
    let picture = Decoded::full(decode(&png, &limits).unwrap());
    let mut group = c.benchmark_group("inference");
    group.sample_size(30);
    group.bench_function("shapes model, end to end after decode", |b| {
        b.iter(|| {
            engine
                .detect_blocking(black_box(&picture), DetectOptions::default())
                .unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
