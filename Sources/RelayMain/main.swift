import RelayServer

// `relay`: the server with the built-in message types and the plugins of --plugins-dir.
await RelayServerBuilder().runFromCommandLine()
