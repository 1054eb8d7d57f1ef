//! Timers and cancellation, owned in one place (as reqwest's wasm client does): a [`Cancel`] holds
//! an attempt's `AbortController`, its timer and its listener on the caller's `AbortSignal`, and
//! disarms all three when dropped — a settled call leaves no timer armed and no listener behind.

use super::js::{self, CallerSignal};
use std::cell::Cell;
use std::future::{poll_fn, Future};
use std::pin::pin;
use std::rc::Rc;
use std::task::{Poll, Waker};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// Why a [`Cancel`] fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fired {
    /// Its timer ran out (a timeout, or the end of a sleep).
    Timer,
    /// The caller's `AbortSignal` fired.
    Caller,
}

/// Cells, not `RefCell`s: the waker is taken and replaced whole (the workers-rs `Delay` style),
/// so there is no borrow that could fail, and none to ignore.
#[derive(Default)]
struct Flag {
    fired: Cell<Option<Fired>>,
    waker: Cell<Option<Waker>>,
}

impl Flag {
    fn fire(&self, why: Fired) {
        if self.fired.get().is_none() {
            self.fired.set(Some(why));
        }
        if let Some(waker) = self.waker.take() {
            waker.wake();
        }
    }
    fn register(&self, waker: &Waker) {
        self.waker.set(Some(waker.clone()));
    }
}

/// One attempt's (or one sleep's) cancellation.
pub struct Cancel {
    flag: Rc<Flag>,
    controller: Option<web_sys::AbortController>,
    timer: Option<(JsValue, Closure<dyn FnMut()>)>,
    listener: Option<(CallerSignal, Closure<dyn FnMut()>)>,
}

/// Whether a caller's signal has fired (a signal whose getter throws counts as not fired).
pub fn is_aborted(signal: Option<&CallerSignal>) -> bool {
    signal.is_some_and(|s| s.aborted().ok().and_then(|v| v.as_bool()) == Some(true))
}

/// What a [`Cancel`] aborts besides waking its waiter.
enum Aborts {
    /// A request: an `AbortController` whose signal goes to `fetch`.
    Request,
    /// Nothing: a wait (a retry delay, a caller waiting on a shared renewal).
    Wait,
}

impl Cancel {
    /// A request's cancellation: a timer of `ms` (when given) and `signal` (when given) also
    /// abort the `AbortController` whose [`Cancel::signal`] goes to `fetch`.
    pub fn for_request(ms: Option<f64>, signal: Option<&CallerSignal>) -> Cancel {
        Cancel::new(ms, signal, Aborts::Request)
    }

    /// A wait's: a timer of `ms` (when given) and `signal` (when given) end it.
    pub fn for_wait(ms: Option<f64>, signal: Option<&CallerSignal>) -> Cancel {
        Cancel::new(ms, signal, Aborts::Wait)
    }

    fn new(ms: Option<f64>, signal: Option<&CallerSignal>, aborts: Aborts) -> Cancel {
        let flag = Rc::new(Flag::default());
        let controller = match aborts {
            Aborts::Request => web_sys::AbortController::new().ok(),
            Aborts::Wait => None,
        };
        let firing = |why: Fired| {
            let flag = flag.clone();
            let controller = controller.clone();
            Closure::<dyn FnMut()>::new(move || {
                flag.fire(why);
                if let Some(c) = &controller {
                    c.abort();
                }
            })
        };
        // A timer that cannot be armed (no `setTimeout`, or it threw) fires at once: a request
        // that could never time out would be worse than one that fails as a timeout now.
        let mut unarmed = false;
        let timer = ms.and_then(|ms| {
            let callback = firing(Fired::Timer);
            match js::set_timeout(callback.as_ref().unchecked_ref(), ms) {
                Ok(handle) => Some((handle, callback)),
                Err(_) => {
                    unarmed = true;
                    None
                }
            }
        });
        let listener = signal.and_then(|s| {
            let callback = firing(Fired::Caller);
            s.add_event_listener("abort", callback.as_ref().unchecked_ref())
                .ok()?;
            Some((s.clone(), callback))
        });
        let cancel = Cancel {
            flag,
            controller,
            timer,
            listener,
        };
        let fired_already = if is_aborted(signal) {
            Some(Fired::Caller)
        } else if unarmed {
            Some(Fired::Timer)
        } else {
            None
        };
        if let Some(why) = fired_already {
            cancel.flag.fire(why);
            if let Some(c) = &cancel.controller {
                c.abort();
            }
        }
        cancel
    }

    /// The signal to hand to `fetch`.
    pub fn signal(&self) -> Option<web_sys::AbortSignal> {
        self.controller
            .as_ref()
            .map(web_sys::AbortController::signal)
    }

    pub fn fired(&self) -> Option<Fired> {
        self.flag.fired.get()
    }

    /// `future`'s output, or why this fired first. A JS promise that never settles (a caller's
    /// fetch ignoring its signal) is abandoned on time.
    pub async fn race<F: Future>(&self, future: F) -> Result<F::Output, Fired> {
        let mut future = pin!(future);
        poll_fn(|cx| {
            if let Some(why) = self.flag.fired.get() {
                return Poll::Ready(Err(why));
            }
            if let Poll::Ready(out) = future.as_mut().poll(cx) {
                return Poll::Ready(Ok(out));
            }
            self.flag.register(cx.waker());
            Poll::Pending
        })
        .await
    }

    /// Resolves when this fires: the timer ran out, or the caller aborted.
    pub async fn fired_wait(&self) -> Fired {
        poll_fn(|cx| match self.flag.fired.get() {
            Some(why) => Poll::Ready(why),
            None => {
                self.flag.register(cx.waker());
                Poll::Pending
            }
        })
        .await
    }
}

impl Drop for Cancel {
    fn drop(&mut self) {
        if let Some((handle, _)) = &self.timer {
            let _ = js::clear_timeout(handle);
        }
        if let Some((signal, callback)) = &self.listener {
            let _ = signal.remove_event_listener("abort", callback.as_ref().unchecked_ref());
        }
    }
}

/// Waits `ms`, or less if `signal` fires; `true` when the caller aborted.
pub async fn sleep(ms: f64, signal: Option<&CallerSignal>) -> bool {
    Cancel::for_wait(Some(ms), signal).fired_wait().await == Fired::Caller
}
