#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
static void on_term(int sig) { (void)sig; _exit(0); }
static void on_child(int sig) { (void)sig; while (waitpid(-1, NULL, WNOHANG) > 0) {} }
int main(void) {
  struct sigaction term = {0}, child = {0};
  term.sa_handler = on_term; sigaction(SIGINT, &term, NULL); sigaction(SIGTERM, &term, NULL);
  child.sa_handler = on_child; child.sa_flags = SA_NOCLDSTOP; sigaction(SIGCHLD, &child, NULL);
  for (;;) pause();
}
