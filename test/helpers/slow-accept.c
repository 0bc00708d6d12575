/* A server that makes every connection wait a known time in its accept queue: it listens on
 * 127.0.0.1 (kernel-chosen port, printed on stdout), waits for a line on stdin (the clients
 * are connected), then N times sleeps DELAY_MS, accepts one connection and closes it at once.
 * Connections queued before the line wait DELAY_MS, 2·DELAY_MS, ... N·DELAY_MS after it.
 * Per connection it prints the CLOCK_MONOTONIC ns just before accept() and just after close():
 * the close's state change falls between the two, on the clock tcptrace's timestamps use.
 * Usage: slow-accept N DELAY_MS */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc != 3) return 2;
  int n = atoi(argv[1]);
  long delay_ms = atol(argv[2]);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = { .sin_family = AF_INET };
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof sa;
  if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 128) != 0) return 1;
  if (getsockname(fd, (struct sockaddr *)&sa, &len) != 0) return 1;
  printf("%d\n", ntohs(sa.sin_port));
  fflush(stdout);
  if (getchar() == EOF) return 1;
  struct timespec wait = { .tv_sec = delay_ms / 1000, .tv_nsec = (delay_ms % 1000) * 1000000L };
  for (int i = 0; i < n; i++) {
    nanosleep(&wait, NULL);
    struct timespec before, after;
    clock_gettime(CLOCK_MONOTONIC, &before);
    int c = accept(fd, NULL, NULL);
    if (c < 0) return 1;
    close(c);
    clock_gettime(CLOCK_MONOTONIC, &after);
    printf("%lld %lld\n", before.tv_sec * 1000000000LL + before.tv_nsec, after.tv_sec * 1000000000LL + after.tv_nsec);
    fflush(stdout);
  }
  close(fd);
  return 0;
}
