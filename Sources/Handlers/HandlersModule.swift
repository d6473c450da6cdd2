import Relay

/// Namespace of the built-in WebSocket message handlers (filled in by the room-relay work).
public enum BuiltInHandlers {}
