# MicroPython for a Raspberry Pi Pico (RP2040): measure the car's two PWM outputs.
#
# One PIO state machine per input counts how long the pin stays high, two system-clock cycles
# per count (16 ns at 125 MHz), and pushes the count when the pulse ends. The main loop drains
# both FIFOs, timestamps what it reads, and lets ``wire.Reporter`` (the same code the host's
# emulator runs) turn the pulses into protocol lines on USB serial. Sending "?" asks for a
# HELLO at once; Ctrl-C still reaches the REPL, so ``mpremote`` can replace the files.
#
# ruff: noqa: F821 - mov, wait, jmp, x, pin... are the PIO assembler's names, bound by @asm_pio

import select
import sys
import time

import rp2
import wire
from machine import Pin, freq

STEERING_PIN = 2  # GP2, physical pin 4
THROTTLE_PIN = 3  # GP3, physical pin 5
PERIOD_US = 20000  # the car's PWM runs at 50 Hz


@rp2.asm_pio()
def high_time():
    wrap_target()
    mov(x, invert(null))  # x = 0xFFFFFFFF
    wait(0, pin, 0)  # start on a rising edge, never mid-pulse
    wait(1, pin, 0)
    label("high")
    jmp(x_dec, "next")  # one cycle: count
    label("next")
    jmp(pin, "high")  # one cycle: still high?
    mov(isr, invert(x))  # the number of counts
    push(noblock)  # a full FIFO drops, it never stalls the measurement
    wrap()


def start_machines(sm_freq):
    machines = []
    for index, number in enumerate((STEERING_PIN, THROTTLE_PIN)):
        pin = Pin(number, Pin.IN, Pin.PULL_DOWN)  # a loose wire reads low: LOST, not a pulse
        machine = rp2.StateMachine(index, high_time, freq=sm_freq, in_base=pin, jmp_pin=pin)
        machine.active(1)
        machines.append(machine)
    return machines


def main():
    sm_freq = freq()
    machines = start_machines(sm_freq)
    reporter = wire.Reporter(res_ns=wire.count_to_ns(1, sm_freq), period_us=PERIOD_US)
    out = sys.stdout.buffer
    requests = select.poll()
    requests.register(sys.stdin, select.POLLIN)
    last_ticks = time.ticks_us()
    now_us = 0  # uptime that never wraps (ticks_us does, every ~18 minutes)
    while True:
        ticks = time.ticks_us()
        now_us += time.ticks_diff(ticks, last_ticks)
        last_ticks = ticks
        lines = reporter.poll(now_us)
        for channel, machine in enumerate(machines):
            while machine.rx_fifo():
                width_ns = wire.count_to_ns(machine.get(), sm_freq)
                lines.extend(reporter.pulse(channel, width_ns, now_us))
        if requests.poll(0) and sys.stdin.read(1) == "?":
            lines.append(reporter.hello(now_us))
        for line in lines:
            out.write(line.encode())


main()
