/* Sets its own command name to the bytes given in hex (prctl PR_SET_NAME, as any process
 * may), then connects to 127.0.0.1:PORT, closes, and waits for the close to finish.
 * Usage: named-connect HEXNAME PORT */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc != 3) return 2;
  char name[64] = {0};
  size_t n = strlen(argv[1]) / 2;
  if (n >= sizeof name) return 2;
  for (size_t i = 0; i < n; i++) {
    unsigned v;
    if (sscanf(argv[1] + 2 * i, "%2x", &v) != 1) return 2;
    name[i] = (char)v;
  }
  if (prctl(PR_SET_NAME, name, 0, 0, 0) != 0) return 1;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[2])) };
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) return 1;
  shutdown(fd, SHUT_WR);
  char buf[64];
  while (read(fd, buf, sizeof buf) > 0) {}
  close(fd);
  return 0;
}
