// The ws package ships no types; only its constructor shape matters here.
declare module 'ws' {
  const WebSocket: new (url: string) => unknown;
  export default WebSocket;
}
