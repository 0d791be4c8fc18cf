//! Tiled detection (SAHI-style): where the tiles go, and which of their detections to trust.
//!
//! A large image is cut into overlapping tiles the size the model works at, so that each
//! tile is looked at in the original pixels (the model's resize of a tile is then about
//! 1:1). The whole image is looked at too, for objects larger than a tile. A tile's
//! detection that touches the tile's inner edge is a piece of an object cut by the edge; it
//! is dropped when another pass saw more of that object (the neighbouring tile, which the
//! overlap makes contain it whole, or the whole-image pass). The rest are merged with
//! class-wise non-maximum suppression.

mod plan;

pub use plan::{plan, RunCost, TileCost, TILE_BUDGET_SHARE};

use crate::detection::{merge_nms, BoundingBox, Detection};
use crate::resize::ResizeRule;

/// At most this many tiles per image; larger images get larger tiles.
pub const MAX_TILES: usize = 64;
/// Tiling only pays when the model would shrink the image to less than this.
pub const TILE_BELOW_SCALE: f32 = 0.75;
/// Smallest tile side, in original pixels.
const MIN_TILE_SIDE: u32 = 64;
/// Overlap (IoU) at which two detections of a class are one object.
pub const MERGE_IOU: f32 = 0.5;
/// How close, in pixels, to a tile's inner edge a box counts as cut by it.
const EDGE_PX: f32 = 1.0;
/// A cut piece is dropped when at least this share of it lies inside a whole detection of
/// its class.
const PIECE_COVERED: f32 = 0.5;

/// A tile, in original pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tile {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

/// The largest tile a model looks at in its own pixels (its resize of the tile is 1:1):
/// `max_long` square for the native-scale rule, `min_size` square for torchvision's
/// shortest-edge rule, the fixed size for a fixed-size model.
pub fn native_tile(rule: &ResizeRule) -> (u32, u32) {
    match *rule {
        ResizeRule::NativeCap { max_long } => (max_long, max_long),
        ResizeRule::ShortestEdge { min_size, .. } => (min_size, min_size),
        ResizeRule::FixedSize { width, height } => (width, height),
    }
}

/// The tiles for an image of `width` x `height`, for a model resizing by `rule`, at most
/// [`MAX_TILES`]: see [`grid_within`].
pub fn grid(rule: &ResizeRule, width: u32, height: u32, overlap: f32) -> Vec<Tile> {
    grid_within(rule, width, height, overlap, MAX_TILES)
}

/// The tiles for an image of `width` x `height`, for a model resizing by `rule`: none when
/// the model looks at the whole image at 3/4 of its size or more, else a grid of
/// overlapping [`native_tile`]s (neighbours overlap by `overlap` of a tile or a little more,
/// spread evenly to cover the image). When that takes more than `max_tiles`, the tiles grow
/// (the model then shrinks each a little) until the grid fits; none when tiles that large
/// would show the model little more than the whole image does.
pub fn grid_within(
    rule: &ResizeRule,
    width: u32,
    height: u32,
    overlap: f32,
    max_tiles: usize,
) -> Vec<Tile> {
    let whole_scale = rule.scale(width, height);
    if whole_scale >= TILE_BELOW_SCALE || max_tiles < 2 {
        return Vec::new();
    }
    let overlap = overlap.clamp(0.0, 0.5);
    let (tw, th) = native_tile(rule);
    let mut tile = (
        tw.max(MIN_TILE_SIDE).min(width),
        th.max(MIN_TILE_SIDE).min(height),
    );
    loop {
        let xs = positions(width, tile.0, overlap);
        let ys = positions(height, tile.1, overlap);
        if xs.len() * ys.len() <= max_tiles {
            if rule.scale(tile.0, tile.1) < whole_scale * MIN_TILE_GAIN {
                return Vec::new();
            }
            return ys
                .iter()
                .flat_map(|&y| {
                    xs.iter().map(move |&x| Tile {
                        x,
                        y,
                        width: tile.0,
                        height: tile.1,
                    })
                })
                .collect();
        }
        if tile.0 >= width && tile.1 >= height {
            return Vec::new();
        }
        tile = (
            (tile.0 + tile.0 / 4).min(width),
            (tile.1 + tile.1 / 4).min(height),
        );
    }
}

/// Tiles that the model sees at less than this many times the whole image's scale are not
/// worth their runs.
const MIN_TILE_GAIN: f32 = 1.25;

/// Start positions of tiles `tile` long covering `length`, neighbours overlapping by at
/// least `overlap` of a tile, spread evenly from 0 to `length - tile`.
fn positions(length: u32, tile: u32, overlap: f32) -> Vec<u32> {
    if tile >= length {
        return vec![0];
    }
    let stride = ((tile as f32 * (1.0 - overlap)).floor() as u32).max(1);
    let span = length - tile;
    let count = span.div_ceil(stride) as usize + 1;
    (0..count)
        .map(|i| {
            ((u64::from(span) * i as u64 + (count as u64 - 1) / 2) / (count as u64 - 1)) as u32
        })
        .collect()
}

/// One pass's detections, in original pixels, and the tile they came from (`None`: the
/// whole image).
pub struct Pass {
    pub tile: Option<Tile>,
    pub detections: Vec<Detection>,
}

/// Whether `bbox` (original pixels) touches an edge of `tile` that lies inside the image.
fn cut_by_edge(bbox: &BoundingBox, tile: &Tile, image: (u32, u32)) -> bool {
    let (x0, y0) = (tile.x as f32, tile.y as f32);
    let (x1, y1) = ((tile.x + tile.width) as f32, (tile.y + tile.height) as f32);
    (tile.x > 0 && bbox.x1 <= x0 + EDGE_PX)
        || (tile.y > 0 && bbox.y1 <= y0 + EDGE_PX)
        || (tile.x + tile.width < image.0 && bbox.x2 >= x1 - EDGE_PX)
        || (tile.y + tile.height < image.1 && bbox.y2 >= y1 - EDGE_PX)
}

fn intersection(a: &BoundingBox, b: &BoundingBox) -> f32 {
    let ix = (a.x2.min(b.x2) - a.x1.max(b.x1)).max(0.0);
    let iy = (a.y2.min(b.y2) - a.y1.max(b.y1)).max(0.0);
    ix * iy
}

/// Whether `bbox` lies inside `tile` clear of its inner edges: the tile saw it whole, at
/// the original resolution.
fn seen_whole_by(bbox: &BoundingBox, tile: &Tile, image: (u32, u32)) -> bool {
    let inside = bbox.x1 >= tile.x as f32
        && bbox.y1 >= tile.y as f32
        && bbox.x2 <= (tile.x + tile.width) as f32
        && bbox.y2 <= (tile.y + tile.height) as f32;
    inside && !cut_by_edge(bbox, tile, image)
}

/// Merges the passes of one image, sorted by score:
///
/// - a whole-image detection lying inside a tile (clear of its inner edges) is dropped: that
///   tile saw the object at the original resolution, and the whole-image pass, which saw it
///   shrunk, gives it a looser box (or imagines it); the whole image keeps the objects no
///   tile holds whole (larger than the overlap, across tile edges);
/// - a tile's detection cut by the tile's inner edge is dropped when another detection of its
///   class covers most of it (the neighbouring tile, or the whole image, saw more of it);
/// - then class-wise NMS.
pub fn merge(passes: Vec<Pass>, image: (u32, u32)) -> Vec<Detection> {
    let tiles: Vec<Tile> = passes.iter().filter_map(|p| p.tile).collect();
    let mut whole = Vec::new();
    let mut pieces = Vec::new();
    for pass in passes {
        for d in pass.detections {
            match pass.tile {
                Some(tile) if cut_by_edge(&d.bbox, &tile, image) => pieces.push(d),
                Some(_) => whole.push(d),
                None if tiles.iter().any(|t| seen_whole_by(&d.bbox, t, image)) => {}
                None => whole.push(d),
            }
        }
    }
    let kept_pieces: Vec<Detection> = pieces
        .into_iter()
        .filter(|p| {
            let area = p.bbox.area().max(f32::EPSILON);
            !whole.iter().any(|w| {
                w.class_id == p.class_id && intersection(&w.bbox, &p.bbox) / area >= PIECE_COVERED
            })
        })
        .collect();
    whole.extend(kept_pieces);
    merge_nms(whole, MERGE_IOU)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_tiles_when_the_model_sees_the_image_nearly_whole() {
        let native = ResizeRule::NativeCap { max_long: 1333 };
        assert!(grid(&native, 1333, 1000, 0.2).is_empty());
        assert!(grid(&native, 1700, 1200, 0.2).is_empty(), "scale 0.78");
        assert!(
            grid(&ResizeRule::default(), 640, 480, 0.2).is_empty(),
            "enlarged"
        );
    }

    #[test]
    fn tiles_cover_the_image_with_the_overlap_asked_for() {
        let native = ResizeRule::NativeCap { max_long: 1333 };
        for (w, h, overlap) in [
            (4000, 3000, 0.2),
            (4032, 3024, 0.0),
            (3000, 4000, 0.5),
            (6000, 900, 0.2),
        ] {
            let tiles = grid(&native, w, h, overlap);
            assert!(
                !tiles.is_empty() && tiles.len() <= MAX_TILES,
                "{w}x{h}: {}",
                tiles.len()
            );
            let t = tiles[0];
            assert_eq!((t.width, t.height), (1333.min(w), 1333.min(h)), "{w}x{h}");
            // Every pixel is covered; neighbours overlap by at least the share asked for.
            for (px, py) in [(0, 0), (w - 1, h - 1), (w / 2, h / 3), (w - 1, 0)] {
                assert!(
                    tiles.iter().any(|t| px >= t.x
                        && px < t.x + t.width
                        && py >= t.y
                        && py < t.y + t.height),
                    "{w}x{h} ({px},{py})"
                );
            }
            let xs: Vec<u32> = tiles.iter().filter(|t| t.y == 0).map(|t| t.x).collect();
            for pair in xs.windows(2) {
                let shared = t.width - (pair[1] - pair[0]);
                assert!(
                    shared as f32 >= overlap * t.width as f32 - 1.0,
                    "{w}x{h}: {pair:?}"
                );
            }
            assert!(tiles
                .iter()
                .all(|t| t.x + t.width <= w && t.y + t.height <= h));
        }
    }

    #[test]
    fn huge_images_get_fewer_larger_tiles() {
        let ssd = ResizeRule::FixedSize {
            width: 300,
            height: 300,
        };
        let tiles = grid(&ssd, 8000, 6000, 0.2);
        assert!(tiles.len() <= MAX_TILES, "{}", tiles.len());
        assert!(tiles[0].width > 300);
    }

    #[test]
    fn a_smaller_budget_gives_fewer_larger_tiles() {
        let rule = ResizeRule::default();
        let all = grid(&rule, 4032, 3024, 0.2);
        let few = grid_within(&rule, 4032, 3024, 0.2, 9);
        assert!(all.len() > 9, "{}", all.len());
        assert!(!few.is_empty() && few.len() <= 9, "{}", few.len());
        assert!(few[0].width > all[0].width);
        // Each tile is still seen at a larger scale than the whole image.
        assert!(rule.scale(few[0].width, few[0].height) >= 1.25 * rule.scale(4032, 3024));
        // A budget for one tile (or a grid of tiles nearly the image's size) is no tiling.
        assert!(grid_within(&rule, 4032, 3024, 0.2, 1).is_empty());
        assert!(grid_within(&rule, 4032, 3024, 0.2, 2).is_empty());
    }

    fn det(class_id: i64, score: f32, x1: f32, y1: f32, x2: f32, y2: f32) -> Detection {
        Detection {
            label: format!("c{class_id}"),
            class_id,
            score,
            bbox: BoundingBox { x1, y1, x2, y2 },
        }
    }

    #[test]
    fn pieces_cut_by_a_tile_edge_give_way_to_the_whole_object() {
        let image = (2000, 1000);
        let left = Tile {
            x: 0,
            y: 0,
            width: 1100,
            height: 1000,
        };
        let right = Tile {
            x: 900,
            y: 0,
            width: 1100,
            height: 1000,
        };
        let merged = merge(
            vec![
                // The left tile cuts an object at its right edge (x = 1100)...
                Pass {
                    tile: Some(left),
                    detections: vec![det(1, 0.95, 1060.0, 10.0, 1100.0, 50.0)],
                },
                // ...which the right tile sees whole, with a lower score.
                Pass {
                    tile: Some(right),
                    detections: vec![det(1, 0.9, 1060.0, 10.0, 1120.0, 50.0)],
                },
                // A box at the image border is not cut, whatever tile it comes from.
                Pass {
                    tile: Some(right),
                    detections: vec![det(2, 0.8, 1950.0, 900.0, 2000.0, 1000.0)],
                },
                Pass {
                    tile: None,
                    detections: vec![],
                },
            ],
            image,
        );
        let got: Vec<(i64, f32)> = merged.iter().map(|d| (d.class_id, d.score)).collect();
        assert_eq!(got, vec![(1, 0.9), (2, 0.8)]);
        // The whole-image pass yields to a tile that saw the object whole, and keeps what
        // no tile holds whole.
        let merged = merge(
            vec![
                Pass {
                    tile: None,
                    detections: vec![
                        det(1, 0.99, 100.0, 100.0, 180.0, 170.0),
                        det(2, 0.9, 800.0, 100.0, 1400.0, 600.0),
                    ],
                },
                Pass {
                    tile: Some(left),
                    detections: vec![det(1, 0.7, 110.0, 110.0, 160.0, 160.0)],
                },
                Pass {
                    tile: Some(right),
                    detections: vec![],
                },
            ],
            image,
        );
        let got: Vec<(i64, f32)> = merged.iter().map(|d| (d.class_id, d.score)).collect();
        assert_eq!(got, vec![(2, 0.9), (1, 0.7)]);
        // A cut piece nobody else saw is kept.
        let lone = merge(
            vec![Pass {
                tile: Some(left),
                detections: vec![det(3, 0.7, 1080.0, 0.0, 1100.0, 20.0)],
            }],
            image,
        );
        assert_eq!(lone.len(), 1);
    }
}
