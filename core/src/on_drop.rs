//! [`OnDrop`]: a guard that runs a closure when dropped, unless disarmed.

/// Runs a closure when dropped unless disarmed: keeps the books right when a
/// spawned task is cancelled at an await point (rule 11).
pub(crate) struct OnDrop<F: FnOnce()>(Option<F>);

impl<F: FnOnce()> OnDrop<F> {
    pub(crate) fn new(f: F) -> Self {
        OnDrop(Some(f))
    }

    pub(crate) fn disarm(mut self) {
        self.0 = None;
    }
}

impl<F: FnOnce()> Drop for OnDrop<F> {
    fn drop(&mut self) {
        if let Some(f) = self.0.take() {
            f();
        }
    }
}
