/* evalctl's commands, one function each. */
#ifndef EVALD_CTL_H
#define EVALD_CTL_H

/* grade ASSIGNMENT_DIR FILE...: grades files offline on this host. */
int ctl_grade(int argc, char **argv);

#endif
