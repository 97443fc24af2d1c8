import { describe, expect, it } from 'vitest';

import { manualFrames } from '../test/frames';

import { scheduleFrame } from './frame';

describe('scheduleFrame', () => {
  it('runs everything asked for the same frame in one animation frame callback, in order', () => {
    const frames = manualFrames();
    const ran: string[] = [];
    scheduleFrame(() => ran.push('text'));
    scheduleFrame(() => ran.push('list'));
    scheduleFrame(() => ran.push('scroll'));
    expect(frames.pending()).toBe(1);
    frames.flush();
    expect(ran).toEqual(['text', 'list', 'scroll']);
    expect(frames.pending()).toBe(0);
  });

  it('asks for the next frame again for what is asked for during a frame', () => {
    const frames = manualFrames();
    const ran: string[] = [];
    scheduleFrame(() => {
      ran.push('first');
      scheduleFrame(() => ran.push('next'));
    });
    frames.flush();
    expect(ran).toEqual(['first']);
    expect(frames.pending()).toBe(1);
    frames.flush();
    expect(ran).toEqual(['first', 'next']);
  });

  it('a cancelled callback does not run, and the frame is given back when nothing is left', () => {
    const frames = manualFrames();
    const ran: string[] = [];
    const cancelText = scheduleFrame(() => ran.push('text'));
    const cancelList = scheduleFrame(() => ran.push('list'));
    cancelText();
    expect(frames.pending()).toBe(1);
    cancelList();
    expect(frames.pending()).toBe(0);
    scheduleFrame(() => ran.push('later'));
    cancelText(); // cancelling again, after it was dropped, changes nothing
    frames.flush();
    expect(ran).toEqual(['later']);
  });

  it('a callback that throws does not keep the others from running', () => {
    const frames = manualFrames();
    const ran: string[] = [];
    scheduleFrame(() => {
      throw new Error('broken');
    });
    scheduleFrame(() => ran.push('text'));
    expect(() => {
      frames.flush();
    }).toThrow('broken');
    expect(ran).toEqual(['text']);
    scheduleFrame(() => ran.push('next'));
    frames.flush();
    expect(ran).toEqual(['text', 'next']);
  });
});
