//! The pause before the next attempt of a write that must land (a sign-in's, a sign-out's, a
//! delivered rotation's): doubling from `first_ms` up to `max_ms`, never past the deadline.

#[derive(Debug, Clone)]
pub struct Backoff {
    deadline: f64,
    next_ms: f64,
    max_ms: f64,
}

impl Backoff {
    pub fn new(now_ms: f64, bound_ms: f64, first_ms: f64, max_ms: f64) -> Backoff {
        Backoff {
            deadline: now_ms + bound_ms,
            next_ms: first_ms,
            max_ms,
        }
    }

    /// The next pause, or `None` once the deadline has passed.
    pub fn next(&mut self, now_ms: f64) -> Option<f64> {
        if now_ms >= self.deadline {
            return None;
        }
        let ms = self.next_ms.min((self.deadline - now_ms).max(1.0));
        self.next_ms = (self.next_ms * 2.0).min(self.max_ms);
        Some(ms)
    }
}
