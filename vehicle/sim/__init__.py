"""The simulator: DeepRacer tracks, a camera renderer, car dynamics and a judge."""
