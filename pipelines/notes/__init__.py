"""Reading treatment notes: the DOCUMENTATION rule's detector of what a 97112 note shows."""
