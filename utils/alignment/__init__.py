"""Alignment (week 4): reward models and the Bradley-Terry loss (`reward`, 12), rollouts and policy evaluation
(`policy`, 13), PPO from scratch (`ppo`, 13) and direct preference optimization (`dpo`, 14)."""
