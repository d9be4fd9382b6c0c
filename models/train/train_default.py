"""Train the bundled default model: imitation of the pure-pursuit expert, with DAgger.

1. Render frames from perturbed poses on the training tracks (off the centre line, turned
   away from the track direction, camera mount jittered, frames augmented) and label each
   with the expert's steering angle (a soft two-hot target over the discrete angles).
2. Train a small CNN (torch, CPU) on everything gathered so far.
3. Drive the learner in the simulator (mixed with the expert at a decreasing rate), label the
   states it visits with the expert, add them (DAgger), and train again.
4. Export ONNX (NHWC [N,120,160,1] float32 0..255 in, softmax over the actions out) and a
   DeepRacer ``model_metadata.json``; check closed-loop laps on seen and unseen tracks.

Run: ``python models/train/train_default.py --out models/default`` (see README.md).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from calibration.model import Calibration
from vehicle.atomic import atomic_write_json
from vehicle.sim.augment import augment_frame, jitter_camera
from vehicle.sim.dynamics import Car, CarParams, CarState
from vehicle.sim.expert import PurePursuit
from vehicle.sim.judge import Judge
from vehicle.sim.render import Camera, Renderer
from vehicle.sim.track import load_track

TRAIN_TRACKS = ("reinvent_base", "reInvent2019_track", "Canada_Training", "New_York_Track")
HELD_OUT_TRACKS = ("Oval_track", "Bowtie_track")  # never seen in training
ANGLES_DEG = np.array([-30.0, -20.0, -10.0, 0.0, 10.0, 20.0, 30.0], dtype=np.float32)
SPEED_MPS = 1.0
FRAME_DT = 1.0 / 15.0  # DeepRacer's camera and simulator step rate


class Policy(nn.Module):
    """Image (NHWC, 0..255) -> action probabilities. Normalises its own input."""

    def __init__(self, n_actions: int) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 5, stride=2, padding=2),
            nn.ReLU(),
            nn.Conv2d(16, 24, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(24, 32, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(32, 32, 3, stride=2, padding=1),
            nn.ReLU(),
        )
        self.head = nn.Sequential(
            nn.Flatten(), nn.Linear(32 * 8 * 10, 64), nn.ReLU(), nn.Linear(64, n_actions)
        )

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 3, 1, 2) / 127.5 - 1.0
        return self.head(self.features(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.logits(x), dim=1)


def soft_target(angle_deg: float) -> np.ndarray:
    """Two-hot weights over ``ANGLES_DEG`` that interpolate ``angle_deg``."""
    target = np.zeros(len(ANGLES_DEG), np.float32)
    a = float(np.clip(angle_deg, ANGLES_DEG[0], ANGLES_DEG[-1]))
    k = int(np.clip(np.searchsorted(ANGLES_DEG, a) - 1, 0, len(ANGLES_DEG) - 2))
    w = (a - ANGLES_DEG[k]) / (ANGLES_DEG[k + 1] - ANGLES_DEG[k])
    target[k], target[k + 1] = 1.0 - w, w
    return target


class World:
    """One track with its renderer and expert."""

    def __init__(self, name: str, seed: int) -> None:
        self.track = load_track(name)
        self.renderer = Renderer(self.track, seed=seed)
        self.expert = PurePursuit(self.track)


def perturbed_samples(world: World, n: int, rng: np.random.Generator) -> tuple:
    """Frames from random poses near the centre line, labelled by the expert."""
    frames = np.empty((n, 120, 160), np.uint8)
    targets = np.empty((n, len(ANGLES_DEG)), np.float32)
    half = world.track.width / 2 - 0.12
    for i in range(n):
        if i % 250 == 0:
            world.renderer.set_camera(jitter_camera(Camera(), rng))
        x, y, h = world.track.pose_at(rng.uniform(0, world.track.length), rng.uniform(-half, half))
        h += float(np.clip(rng.normal(0.0, 0.3), -0.7, 0.7))
        state = CarState(x, y, h)
        frames[i] = augment_frame(world.renderer.render(x, y, h), rng)
        targets[i] = soft_target(world.expert.steering_deg(state))
    world.renderer.set_camera(Camera())
    return frames, targets


def act(policy: Policy, frame: np.ndarray) -> float:
    """The learner's steering angle (deg) for one frame: argmax, as the car does."""
    with torch.no_grad():
        logits = policy.logits(torch.from_numpy(frame[None, :, :, None]).float())
    return float(ANGLES_DEG[int(logits.argmax())])


def rollout(
    policy: Policy,
    world: World,
    steps: int,
    beta: float,
    rng: np.random.Generator,
    cal: Calibration,
) -> tuple:
    """Drive with the learner (the expert in control with probability ``beta``); label every
    visited frame with the expert (DAgger)."""
    frames = np.empty((steps, 120, 160), np.uint8)
    targets = np.empty((steps, len(ANGLES_DEG)), np.float32)
    x, y, h = world.track.pose_at(rng.uniform(0, world.track.length))
    car = Car(CarParams(top_speed_mps=SPEED_MPS), cal, CarState(x, y, h))
    judge = Judge(world.track, car, 0.0)
    world.renderer.set_camera(jitter_camera(Camera(), rng))
    for i in range(steps):
        s = car.state
        frame = world.renderer.render(s.x, s.y, s.heading)
        frames[i] = augment_frame(frame, rng)
        expert_deg = world.expert.steering_deg(s)
        targets[i] = soft_target(expert_deg)
        angle = expert_deg if rng.random() < beta else act(policy, frames[i])
        steer_ns = cal.steering.to_pulse(angle / 30.0)
        car.step(FRAME_DT, steer_ns, cal.throttle.to_pulse(1.0))
        if judge.observe((i + 1) * FRAME_DT):
            judge.reset_pose()
    world.renderer.set_camera(Camera())
    return frames, targets


def train(policy: Policy, frames: np.ndarray, targets: np.ndarray, epochs: int, lr: float) -> None:
    optimiser = torch.optim.Adam(policy.parameters(), lr=lr)
    x_all = torch.from_numpy(frames)
    y_all = torch.from_numpy(targets)
    batch = 128
    for epoch in range(epochs):
        order = torch.randperm(len(x_all))
        total = 0.0
        for start in range(0, len(order), batch):
            idx = order[start : start + batch]
            logits = policy.logits(x_all[idx, :, :, None].float())
            loss = -(y_all[idx] * torch.log_softmax(logits, dim=1)).sum(dim=1).mean()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total += loss.item() * len(idx)
        print(f"  epoch {epoch + 1}/{epochs} loss {total / len(x_all):.4f}", flush=True)


def evaluate(policy: Policy, name: str, laps: int, cal: Calibration) -> dict:
    """Closed-loop laps with clean frames from the centre-line start (no stack, fast)."""
    world = World(name, seed=0)
    x, y, h = world.track.pose_at(0.0)
    car = Car(CarParams(top_speed_mps=SPEED_MPS), cal, CarState(x, y, h))
    judge = Judge(world.track, car, 0.0)
    max_steps = int(laps * world.track.length / SPEED_MPS / FRAME_DT * 1.5)
    for i in range(max_steps):
        s = car.state
        angle = act(policy, world.renderer.render(s.x, s.y, s.heading))
        car.step(FRAME_DT, cal.steering.to_pulse(angle / 30.0), cal.throttle.to_pulse(1.0))
        if judge.observe((i + 1) * FRAME_DT):
            judge.reset_pose()
        if len(judge.laps) >= laps:
            break
    return judge.result()


def export(policy: Policy, out: Path) -> None:
    """``model.onnx`` (NHWC float32 0..255 in, softmax out) and ``model_metadata.json``."""
    out.mkdir(parents=True, exist_ok=True)
    policy.eval()
    torch.onnx.export(
        policy,
        (torch.zeros(1, 120, 160, 1),),
        str(out / "model.onnx"),
        input_names=["observation"],
        output_names=["policy"],
        dynamic_axes={"observation": {0: "N"}, "policy": {0: "N"}},
        opset_version=17,
        dynamo=False,
    )
    metadata = {
        "action_space": [
            {"steering_angle": float(a), "speed": SPEED_MPS, "index": i}
            for i, a in enumerate(ANGLES_DEG)
        ],
        "sensor": ["FRONT_FACING_CAMERA"],
        "neural_network": "SMALL_CNN_IMITATION",
        "training_algorithm": "dagger_imitation",
        "action_space_type": "discrete",
        "preprocess_type": "GREY_SCALE",
        "version": "5",
    }
    atomic_write_json(out / "model_metadata.json", metadata)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("models/default"))
    parser.add_argument("--samples-per-track", type=int, default=8000)
    parser.add_argument("--dagger-rounds", type=int, default=3)
    parser.add_argument("--rollout-steps", type=int, default=1500)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    cal = Calibration()
    started = time.monotonic()
    worlds = [World(name, seed=k + 1) for k, name in enumerate(TRAIN_TRACKS)]
    parts = [perturbed_samples(w, args.samples_per_track, rng) for w in worlds]
    frames = np.concatenate([p[0] for p in parts])
    targets = np.concatenate([p[1] for p in parts])
    print(f"perturbed-pose data: {len(frames)} frames ({time.monotonic() - started:.0f} s)")
    policy = Policy(len(ANGLES_DEG))
    train(policy, frames, targets, args.epochs, lr=1e-3)
    for round_ in range(1, args.dagger_rounds + 1):
        beta = 0.5 / round_
        new = [rollout(policy, w, args.rollout_steps, beta, rng, cal) for w in worlds]
        frames = np.concatenate([frames, *(p[0] for p in new)])
        targets = np.concatenate([targets, *(p[1] for p in new)])
        print(f"DAgger round {round_}: {len(frames)} frames ({time.monotonic() - started:.0f} s)")
        train(policy, frames, targets, max(2, args.epochs // 2), lr=5e-4)
    policy.eval()
    for name in TRAIN_TRACKS + HELD_OUT_TRACKS:
        result = evaluate(policy, name, 3, cal)
        times = [lap["time_s"] for lap in result["laps"]]
        print(f"{name}: laps {times} off-track {result['off_track']}", flush=True)
    export(policy, args.out)
    print(f"exported to {args.out} after {time.monotonic() - started:.0f} s")
    print(json.dumps({"seconds": round(time.monotonic() - started)}))


if __name__ == "__main__":
    main()
