//! Tiles within a deadline: what a run costs, learnt from the runs so far, and the most
//! tiles whose runs fit in the time a request has left.

use super::{grid_within, Tile, MAX_TILES};
use crate::resize::ResizeRule;

/// Of the time left before a request's deadline, the share its tiles are planned to fill:
/// the rest absorbs waits behind other requests and runs slower than the estimate.
pub const TILE_BUDGET_SHARE: f64 = 0.8;

/// What one run over a region costs: the model's work, which grows with the size the model
/// works at, and cutting out and resizing the region, which grows with its original pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunCost {
    /// Milliseconds of model run (and post-processing) per megapixel of working size.
    pub model_ms_per_mpx: f64,
    /// Milliseconds of input building per megapixel of the region's original pixels.
    pub prepare_ms_per_mpx: f64,
}

fn mpx(size: (u32, u32)) -> f64 {
    f64::from(size.0) * f64::from(size.1) / 1e6
}

impl RunCost {
    /// What a run over a region of `original` pixels cost (`model_ms`, `prepare_ms`), as a
    /// rate.
    pub fn from_run(
        rule: &ResizeRule,
        original: (u32, u32),
        model_ms: f64,
        prepare_ms: f64,
    ) -> Self {
        let working = mpx(rule.working_size(original.0, original.1)).max(1e-6);
        Self {
            model_ms_per_mpx: model_ms / working,
            prepare_ms_per_mpx: prepare_ms / mpx(original).max(1e-6),
        }
    }

    /// The expected milliseconds of one run over a `tile`.
    pub fn tile_ms(&self, rule: &ResizeRule, tile: (u32, u32)) -> f64 {
        self.model_ms_per_mpx * mpx(rule.working_size(tile.0, tile.1))
            + self.prepare_ms_per_mpx * mpx(tile)
    }
}

/// The tiles for an image of `width` x `height` whose runs, at `cost` each, fit in `left_ms`
/// (see [`TILE_BUDGET_SHARE`]): the most tiles that fit, larger ones when fewer must do,
/// none when not even a few large tiles fit.
pub fn plan(
    rule: &ResizeRule,
    (width, height): (u32, u32),
    overlap: f32,
    left_ms: f64,
    cost: &RunCost,
) -> Vec<Tile> {
    let budget = left_ms.max(0.0) * TILE_BUDGET_SHARE;
    let mut most = MAX_TILES;
    loop {
        let tiles = grid_within(rule, width, height, overlap, most);
        let Some(first) = tiles.first() else {
            return tiles;
        };
        let total = tiles.len() as f64 * cost.tile_ms(rule, (first.width, first.height));
        if total <= budget {
            return tiles;
        }
        most = tiles.len() - 1;
    }
}

/// What a tile run of this model has cost, learnt from the runs so far (a running average),
/// for planning the next request's tiles.
#[derive(Debug, Default)]
pub struct TileCost {
    learnt: std::sync::Mutex<Option<RunCost>>,
}

/// Weight of the newest run in [`TileCost`]'s average.
const COST_WEIGHT: f64 = 0.3;

impl TileCost {
    /// The learnt cost, else `prior` (from the whole image's run, before any tile ran).
    pub fn or(&self, prior: RunCost) -> RunCost {
        self.learnt
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .unwrap_or(prior)
    }

    /// Learns from a tile run.
    pub fn record(&self, run: RunCost) {
        let mut learnt = self.learnt.lock().unwrap_or_else(|p| p.into_inner());
        let blend = |old: f64, new: f64| old + COST_WEIGHT * (new - old);
        *learnt = Some(match *learnt {
            Some(old) => RunCost {
                model_ms_per_mpx: blend(old.model_ms_per_mpx, run.model_ms_per_mpx),
                prepare_ms_per_mpx: blend(old.prepare_ms_per_mpx, run.prepare_ms_per_mpx),
            },
            None => run,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tile::grid;

    #[test]
    fn tiles_are_planned_to_fit_the_time_left() {
        let rule = ResizeRule::default();
        let image = (4032, 3024);
        // 100 ms per working megapixel: a native 800x800 tile is 64 ms.
        let cost = RunCost {
            model_ms_per_mpx: 100.0,
            prepare_ms_per_mpx: 0.0,
        };
        assert!((cost.tile_ms(&rule, (800, 800)) - 64.0).abs() < 1e-9);
        let all = grid(&rule, image.0, image.1, 0.2);
        assert_eq!(
            plan(&rule, image, 0.2, 60_000.0, &cost),
            all,
            "time for every tile"
        );
        let some = plan(&rule, image, 0.2, 600.0, &cost);
        assert!(!some.is_empty() && some.len() < all.len(), "{}", some.len());
        let spent: f64 = some.len() as f64 * cost.tile_ms(&rule, (some[0].width, some[0].height));
        assert!(spent <= 600.0 * TILE_BUDGET_SHARE, "{spent}");
        assert!(
            plan(&rule, image, 0.2, 50.0, &cost).is_empty(),
            "no time: no tiles"
        );
        // Cutting out larger tiles costs more when building the input is slow.
        let slow_cut = RunCost {
            prepare_ms_per_mpx: 100.0,
            ..cost
        };
        assert!(slow_cut.tile_ms(&rule, (1600, 1600)) > slow_cut.tile_ms(&rule, (800, 800)));
        let fewer = plan(&rule, image, 0.2, 600.0, &slow_cut);
        assert!(fewer.len() <= some.len());
    }

    #[test]
    fn the_tile_cost_is_learnt() {
        let rule = ResizeRule::default();
        let prior = RunCost::from_run(&rule, (4032, 3024), 3_000.0, 120.0);
        // 3 s over a 1066x800 working size; 120 ms over 12.2 original megapixels.
        assert!((prior.model_ms_per_mpx - 3_000.0 / (1066.0 * 800.0 / 1e6)).abs() < 1.0);
        assert!((prior.prepare_ms_per_mpx - 120.0 / 12.192768).abs() < 0.01);
        let learnt = TileCost::default();
        assert_eq!(learnt.or(prior), prior, "nothing learnt yet");
        let tile = RunCost::from_run(&rule, (800, 800), 1_000.0, 10.0);
        learnt.record(tile);
        assert_eq!(learnt.or(prior), tile);
        learnt.record(RunCost::from_run(&rule, (800, 800), 2_000.0, 10.0));
        assert!((learnt.or(prior).tile_ms(&rule, (800, 800)) - 1_310.0).abs() < 1e-6);
    }
}
