"""The mail round: submissions collected from mail, feedback and reminders sent back."""
