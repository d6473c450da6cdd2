# Starts RELAY on a free port, opens a connection that sends nothing (as a browser's preconnect
# does), sends SIGTERM, and prints how long the server took to exit.
#   python3 Benchmarks/relay/stop_with_idle_connection.py path/to/relay
import socket, subprocess, sys, time, tempfile, os, signal
binary = sys.argv[1]
port = 23000 + os.getpid() % 1000
data = tempfile.mkdtemp()
server = subprocess.Popen([binary, "--port", str(port), "--data-dir", data], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
for _ in range(100):
    try:
        socket.create_connection(("127.0.0.1", port)).close(); break
    except OSError: time.sleep(0.05)
time.sleep(0.3)
idle = socket.create_connection(("127.0.0.1", port))   # a browser's preconnect: no request yet
time.sleep(0.3)
start = time.time(); server.send_signal(signal.SIGTERM)
try:
    server.wait(timeout=40); print(f"{os.path.basename(binary)}: exited {server.returncode} {time.time()-start:.1f} s after SIGTERM with an idle pre-request connection open")
except subprocess.TimeoutExpired:
    print("still running after 40 s"); server.kill()
idle.close()
