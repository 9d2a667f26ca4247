"""Alignment (week 4): reward models and the Bradley-Terry loss (`reward`, 12), an independent judge (`judge`, 12),
rollouts and policy evaluation (`policy`, 13), PPO's pieces (`ppo`, 13), the PPO / GRPO / RLOO loop
(`ppo_training`, 13) and direct preference optimization (`dpo`, 14)."""
