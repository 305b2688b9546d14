from tracker.cli import run

# Guarded: worker processes (spawned for parsing) import the main module again.
if __name__ == "__main__":
    run()
