import Hummingbird
import HummingbirdWebSocket
import NIOCore

/// Request context of the WebSocket router: keeps the channel so a connection that
/// falls too far behind can be hung up from outside its handler.
struct RelayRequestContext: RequestContext, WebSocketRequestContext {
    var coreContext: CoreRequestContextStorage
    let webSocket: WebSocketHandlerReference<Self>
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.webSocket = .init()
        self.channel = source.channel
    }
}
