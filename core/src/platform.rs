//! The one place where native and wasm32 differ: `Send` bounds.
//!
//! On native targets connections are driven on a multi-threaded runtime, so
//! everything the pool stores must be `Send + Sync`. On wasm32 there is one
//! thread and JavaScript values are not `Send`, so the bounds vanish.

use std::future::Future;
use std::pin::Pin;

/// `Send` on native targets, nothing on wasm32.
///
/// ```
/// use edgepg_core::MaybeSend;
/// fn movable<T: MaybeSend>(_: &T) {}
/// movable(&String::from("moves between threads on native targets"));
/// ```
#[cfg(not(target_arch = "wasm32"))]
pub trait MaybeSend: Send {}
#[cfg(not(target_arch = "wasm32"))]
impl<T: Send + ?Sized> MaybeSend for T {}

/// `Send` on native targets, nothing on wasm32.
///
/// ```
/// use edgepg_core::MaybeSend;
/// fn movable<T: MaybeSend>(_: &T) {}
/// movable(&String::from("moves between threads on native targets"));
/// ```
#[cfg(target_arch = "wasm32")]
pub trait MaybeSend {}
#[cfg(target_arch = "wasm32")]
impl<T: ?Sized> MaybeSend for T {}

/// `Sync` on native targets, nothing on wasm32.
///
/// ```
/// use edgepg_core::MaybeSync;
/// fn shareable<T: MaybeSync>(_: &T) {}
/// shareable(&std::sync::Arc::new(42));
/// ```
#[cfg(not(target_arch = "wasm32"))]
pub trait MaybeSync: Sync {}
#[cfg(not(target_arch = "wasm32"))]
impl<T: Sync + ?Sized> MaybeSync for T {}

/// `Sync` on native targets, nothing on wasm32.
///
/// ```
/// use edgepg_core::MaybeSync;
/// fn shareable<T: MaybeSync>(_: &T) {}
/// shareable(&std::sync::Arc::new(42));
/// ```
#[cfg(target_arch = "wasm32")]
pub trait MaybeSync {}
#[cfg(target_arch = "wasm32")]
impl<T: ?Sized> MaybeSync for T {}

/// A boxed future that is `Send` on native targets.
///
/// ```
/// use edgepg_core::BoxFuture;
/// use futures_util::FutureExt;
/// let answer: BoxFuture<'static, i32> = Box::pin(async { 42 });
/// assert_eq!(answer.now_or_never(), Some(42));
/// ```
#[cfg(not(target_arch = "wasm32"))]
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
/// A boxed future that is `Send` on native targets.
///
/// ```
/// use edgepg_core::BoxFuture;
/// use futures_util::FutureExt;
/// let answer: BoxFuture<'static, i32> = Box::pin(async { 42 });
/// assert_eq!(answer.now_or_never(), Some(42));
/// ```
#[cfg(target_arch = "wasm32")]
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// A type-erased value that is `Send` on native targets.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) type BoxAny = Box<dyn std::any::Any + Send>;
/// A type-erased value that is `Send` on native targets.
#[cfg(target_arch = "wasm32")]
pub(crate) type BoxAny = Box<dyn std::any::Any>;

/// A boxed stream that is `Send` on native targets.
///
/// ```
/// use edgepg_core::BoxStream;
/// use futures_util::{FutureExt, StreamExt};
/// let mut numbers: BoxStream<'static, i32> = Box::pin(futures_util::stream::iter([1, 2]));
/// assert_eq!(numbers.next().now_or_never(), Some(Some(1)));
/// ```
#[cfg(not(target_arch = "wasm32"))]
pub type BoxStream<'a, T> = Pin<Box<dyn futures_util::Stream<Item = T> + Send + 'a>>;
/// A boxed stream that is `Send` on native targets.
///
/// ```
/// use edgepg_core::BoxStream;
/// use futures_util::{FutureExt, StreamExt};
/// let mut numbers: BoxStream<'static, i32> = Box::pin(futures_util::stream::iter([1, 2]));
/// assert_eq!(numbers.next().now_or_never(), Some(Some(1)));
/// ```
#[cfg(target_arch = "wasm32")]
pub type BoxStream<'a, T> = Pin<Box<dyn futures_util::Stream<Item = T> + 'a>>;

/// A shared callback taking `&A`: `Send + Sync` on native targets, local on
/// wasm32 (where it may hold a JavaScript function).
#[cfg(not(target_arch = "wasm32"))]
pub(crate) type SharedFn<A> = std::sync::Arc<dyn Fn(&A) + Send + Sync>;

/// A shared callback taking `&A` (wasm32: local, may hold JavaScript values).
#[cfg(target_arch = "wasm32")]
pub(crate) type SharedFn<A> = std::sync::Arc<dyn Fn(&A)>;
