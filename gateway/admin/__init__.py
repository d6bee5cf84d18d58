"""What an administrator does, one module per subject; the console and the admin pages both call it.

Every action checks everything before it writes and runs in one transaction, so a refused
action (`gateway.errors.AdminError`, one line naming the problem) leaves nothing half-written.
"""
