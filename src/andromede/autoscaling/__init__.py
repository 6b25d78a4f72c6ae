"""EC2 Auto Scaling groups (decision 0156): the groups, their scaling activities, and the
reconciler that keeps each group's running instances at its desired capacity."""
