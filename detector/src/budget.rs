//! A memory budget shared by every request: decoding reserves what it will need before it
//! allocates, so the memory in use is bounded by the budget, not by how many requests arrive.

use std::sync::Arc;
use std::time::Instant;

use thiserror::Error;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The budget counts in KiB so that a `u32` of permits covers terabytes.
const UNIT: u64 = 1024;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum BudgetError {
    /// One request alone needs more than the whole budget: it can never be served.
    #[error("processing this image would need about {needed_mib} MiB of memory, more than the server's {budget_mib} MiB image budget")]
    TooLarge { needed_mib: u64, budget_mib: u64 },
    /// The budget stayed taken by other requests until the caller's deadline.
    #[error("the server is busy with other large images; retry shortly")]
    Exhausted,
}

/// A pool of bytes that requests reserve before decoding and hold until they finish.
#[derive(Debug, Clone)]
pub struct MemoryBudget {
    semaphore: Arc<Semaphore>,
    total_units: u32,
}

/// Memory reserved for one request; given back when dropped.
#[derive(Debug)]
pub struct Reservation {
    _permit: OwnedSemaphorePermit,
    bytes: u64,
}

impl Reservation {
    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

impl MemoryBudget {
    pub fn new(bytes: u64) -> Self {
        let units = (bytes / UNIT).clamp(1, u64::from(u32::MAX >> 3)) as u32;
        Self {
            semaphore: Arc::new(Semaphore::new(units as usize)),
            total_units: units,
        }
    }

    pub fn total_bytes(&self) -> u64 {
        u64::from(self.total_units) * UNIT
    }

    /// Reserves `bytes`, waiting for other requests to give memory back until `deadline`.
    pub async fn reserve(&self, bytes: u64, deadline: Instant) -> Result<Reservation, BudgetError> {
        let units = bytes.div_ceil(UNIT).max(1);
        if units > u64::from(self.total_units) {
            return Err(BudgetError::TooLarge {
                needed_mib: bytes.div_ceil(1024 * 1024),
                budget_mib: self.total_bytes() / (1024 * 1024),
            });
        }
        let acquire = Arc::clone(&self.semaphore).acquire_many_owned(units as u32);
        match tokio::time::timeout_at(tokio::time::Instant::from_std(deadline), acquire).await {
            Ok(Ok(permit)) => Ok(Reservation {
                _permit: permit,
                bytes,
            }),
            _ => Err(BudgetError::Exhausted),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn reservations_wait_for_memory_to_come_back() {
        let budget = MemoryBudget::new(10 * 1024 * 1024);
        let soon = || Instant::now() + Duration::from_millis(100);
        let big = budget.reserve(8 * 1024 * 1024, soon()).await.unwrap();
        assert_eq!(
            budget.reserve(4 * 1024 * 1024, soon()).await.unwrap_err(),
            BudgetError::Exhausted
        );
        drop(big);
        let again = budget.reserve(4 * 1024 * 1024, soon()).await.unwrap();
        assert_eq!(again.bytes(), 4 * 1024 * 1024);
        assert!(matches!(
            budget.reserve(11 * 1024 * 1024, soon()).await,
            Err(BudgetError::TooLarge {
                needed_mib: 11,
                budget_mib: 10
            })
        ));
    }
}
