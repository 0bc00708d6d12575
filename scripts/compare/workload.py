#!/usr/bin/env python3
# The fixed workload of scripts/compare-outputs, run inside the namespace it made
# (`ip netns exec NS python3 workload.py DIR`). Every scenario runs to its end before the next
# starts, so each connection's transitions come in one order run after run. DIR holds the
# nginx configuration and its logs.
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time

DIR = sys.argv[1]
KEEPALIVE_REQUESTS = 3
SHORT_CONNECTIONS = 3
NGINX_PORT = 8080
PY_PORT = 7001
CLOSED_PORT = 7999
DROPPED_PORTS = (7009, 7010)  # nftables drops SYNs to these (set up by compare-outputs)
SETTLE = 0.15  # lets the server side finish its close before the next scenario


def set_comm(name):
    ctypes.CDLL(None).prctl(15, name.encode(), 0, 0, 0)


def listening(port):
    # Waits through /proc, not by connecting: a probe connection would be one more event.
    want = ':%04X 00000000:0000 0A' % port
    want6 = ':%04X 00000000000000000000000000000000:0000 0A' % port
    for _ in range(400):
        text = open('/proc/net/tcp').read() + open('/proc/net/tcp6').read()
        if want in text or want6 in text:
            return
        time.sleep(0.01)
    raise SystemExit('workload: nothing listens on %d' % port)


def start_nginx():
    conf = os.path.join(DIR, 'nginx.conf')
    with open(conf, 'w') as f:
        f.write('''daemon off;
master_process on;
worker_processes 1;
pid %(d)s/nginx.pid;
error_log %(d)s/nginx-error.log;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path %(d)s/tmp; proxy_temp_path %(d)s/tmp; fastcgi_temp_path %(d)s/tmp;
  uwsgi_temp_path %(d)s/tmp; scgi_temp_path %(d)s/tmp;
  keepalive_timeout 30s;
  server {
    listen 127.0.0.1:%(p)d;
    listen [::1]:%(p)d;
    location / { return 200 "ok\\n"; }
  }
}
''' % {'d': DIR, 'p': NGINX_PORT})
    os.makedirs(os.path.join(DIR, 'tmp'), exist_ok=True)
    proc = subprocess.Popen(['nginx', '-c', conf, '-p', DIR], stderr=subprocess.DEVNULL)
    listening(NGINX_PORT)
    time.sleep(0.2)  # both listeners (v4 and v6) and the worker
    return proc


def py_server():
    # A forked server named oracle-srv: what it does with a connection is the client's first byte.
    pid = os.fork()
    if pid:
        listening(PY_PORT)
        return pid
    set_comm('oracle-srv')
    lsock = socket.socket()
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(('127.0.0.1', PY_PORT))
    lsock.listen(16)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    while True:
        conn, _ = lsock.accept()
        kind = conn.recv(1)
        if kind == b'H':  # half-close: read to EOF (CLOSE_WAIT), answer, close (LAST_ACK)
            while conn.recv(100):
                pass
            time.sleep(0.05)
            conn.sendall(b'bye')
            conn.close()
        elif kind == b'T':  # client closes first: answer, wait for its FIN, close
            conn.sendall(b'ok')
            while conn.recv(100):
                pass
            conn.close()
        else:  # 'R': the client resets; read until the reset
            try:
                while conn.recv(100):
                    pass
            except ConnectionResetError:
                pass
            conn.close()


def client(kind):
    s = socket.create_connection(('127.0.0.1', PY_PORT))
    s.sendall(kind)
    return s


def curl(*args):
    subprocess.run(['curl', '-s', '-o', '/dev/null', *args], check=True)
    time.sleep(SETTLE)


def main():
    set_comm('oracle-cli')
    nginx = start_nginx()
    srv = py_server()
    time.sleep(SETTLE)

    url = 'http://127.0.0.1:%d/' % NGINX_PORT
    curl(*([url] * KEEPALIVE_REQUESTS))  # one keep-alive connection; curl closes first
    for _ in range(SHORT_CONNECTIONS):  # nginx closes first (TIME_WAIT on its side)
        curl('-H', 'Connection: close', url)
    curl('http://[::1]:%d/' % NGINX_PORT)  # IPv6 loopback

    try:  # refused: nothing listens
        socket.create_connection(('127.0.0.1', CLOSED_PORT))
    except ConnectionRefusedError:
        pass
    time.sleep(SETTLE)

    s = client(b'R')  # reset: SO_LINGER 0 close
    time.sleep(0.05)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b'\x01\x00\x00\x00\x00\x00\x00\x00')
    s.close()
    time.sleep(SETTLE)

    s = client(b'H')  # half-close: we shut down writing, the server answers and closes
    s.shutdown(socket.SHUT_WR)
    while s.recv(100):
        pass
    s.close()
    time.sleep(SETTLE)

    s = client(b'T')  # we close first: TIME_WAIT here
    s.recv(2)
    s.close()
    time.sleep(SETTLE)

    s = socket.socket()  # dropped SYN, given up by the application after one retransmit
    s.settimeout(1.3)
    try:
        s.connect(('127.0.0.1', DROPPED_PORTS[0]))
    except socket.timeout:
        pass
    s.close()
    time.sleep(SETTLE)

    s = socket.socket()  # dropped SYN, given up by the kernel (one retry: ~3 s)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_SYNCNT, 1)
    try:
        s.connect(('127.0.0.1', DROPPED_PORTS[1]))
    except (TimeoutError, OSError):
        pass
    s.close()
    time.sleep(SETTLE)

    os.kill(srv, signal.SIGTERM)
    os.waitpid(srv, 0)
    nginx.send_signal(signal.SIGQUIT)
    nginx.wait()
    time.sleep(SETTLE)


main()
