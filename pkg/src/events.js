// A small event emitter with node:events' common methods (`on`, `once`,
// `off`, `emit`, …), so that node-postgres' events work in every runtime
// (no `node:events` in browsers or workerd).
//
// Unlike node:events, an `error` event nobody listens to does not throw (a
// pool's idle connection dying must never crash the process): it is
// reported on the console instead.

export class Emitter {
  #listeners = new Map();

  on(event, listener) {
    if (typeof listener !== 'function') throw new TypeError('the listener must be a function');
    const list = this.#listeners.get(event);
    if (list === undefined) this.#listeners.set(event, [listener]);
    else list.push(listener);
    this._listening?.(event);
    return this;
  }

  addListener(event, listener) {
    return this.on(event, listener);
  }

  once(event, listener) {
    if (typeof listener !== 'function') throw new TypeError('the listener must be a function');
    const wrapped = (...args) => {
      this.off(event, wrapped);
      listener.apply(this, args);
    };
    wrapped.listener = listener;
    return this.on(event, wrapped);
  }

  off(event, listener) {
    const list = this.#listeners.get(event);
    if (list === undefined) return this;
    const i = list.findIndex((l) => l === listener || l.listener === listener);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.#listeners.delete(event);
    return this;
  }

  removeListener(event, listener) {
    return this.off(event, listener);
  }

  removeAllListeners(event) {
    if (event === undefined) this.#listeners.clear();
    else this.#listeners.delete(event);
    return this;
  }

  listenerCount(event) {
    return this.#listeners.get(event)?.length ?? 0;
  }

  listeners(event) {
    return (this.#listeners.get(event) ?? []).map((l) => l.listener ?? l);
  }

  /**
   * Calls the listeners of `event` in order; true if there were any. A
   * listener that throws does not stop the others: its error is emitted as
   * `error` (or reported on the console when it came from an `error` listener).
   */
  emit(event, ...args) {
    const list = this.#listeners.get(event);
    if (list === undefined) {
      if (event === 'error') console.error('edgepg: unhandled error event:', args[0]);
      return false;
    }
    for (const listener of [...list]) {
      try {
        listener.apply(this, args);
      } catch (e) {
        if (event === 'error') console.error('edgepg: an error listener threw:', e);
        else this.emit('error', e);
      }
    }
    return true;
  }
}
